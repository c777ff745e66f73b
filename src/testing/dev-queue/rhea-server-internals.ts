import type { Duplex } from 'node:stream';
import type { Container, ConnectionOptions, Sender } from 'rhea';

// The undocumented parts of rhea's server side that the dev queue touches, named here and
// nowhere else. test/unit/dev-queue.test.ts ("the rhea internals the dev queue relies on", and
// the SASL tests) checks each against the installed rhea, so an upgrade that changes one of them
// fails there.

/**
 * @internal The receiver's limit on a sender link: the delivery-count plus the link-credit of its
 * last flow frame. rhea keeps `credit = flow.delivery_count + flow.link_credit - delivery_count`
 * on the sender, and raises `delivery_count` as transfers are written, so the sum is the limit
 * whatever is still queued in rhea.
 */
export function senderLimit(sender: Sender): number {
  const fields = sender as unknown as { delivery_count: number; credit: number };
  return fields.delivery_count + fields.credit;
}

/**
 * @internal Offers a SASL mechanism that always fails (ActiveMQ offers ANONYMOUS and refuses it
 * when authentication is on). rhea's server calls `start()` and reads `outcome` afterwards.
 */
export function offerRefusedMechanism(container: Container, name: string): void {
  const mechanisms = container.sasl_server_mechanisms as unknown as Record<string, () => unknown>;
  mechanisms[name] = () => {
    const mechanism = {
      outcome: undefined as boolean | undefined,
      username: undefined,
      start(): void {
        mechanism.outcome = false;
      },
    };
    return mechanism;
  };
}

/**
 * @internal Serves an AMQP connection over a stream that did not come from `listen()` (an
 * in-process stream pair): what rhea's own `listen()` does with each accepted socket.
 */
export function acceptStream(container: Container, options: Record<string, unknown>, stream: Duplex): void {
  const connection = container.create_connection(options as unknown as ConnectionOptions) as unknown as { accept(socket: Duplex): unknown };
  connection.accept(stream);
}
