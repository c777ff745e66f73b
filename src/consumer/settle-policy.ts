import type { WireOutcome } from '../connection/transport.js';
import type { OutreachDelivery, SettleOutcome, SettleRecord } from '../delivery/delivery.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { Instrumentation } from '../telemetry/instrumentation.js';
import type { ErrorSource } from './events.js';
import type { InFlightTable } from './in-flight.js';
import { silentLogger, type OutreachLogger } from '../logger.js';
import type { OutageControl } from './outage-control.js';
import type { SettledDelivery, SettlerHost } from './settler.js';

/** @internal What the settle policy needs of the consumer. */
export interface SettlePolicyHost {
  readonly table: InFlightTable<unknown>;
  readonly logger: OutreachLogger;
  /** `undefined` when outage handling is off. */
  readonly outage: OutageControl | undefined;
  readonly telemetry: Instrumentation;
  reportError(error: OutreachError, source: ErrorSource): void;
  /** Emits the `settled` event. */
  settled(delivery: OutreachDelivery<unknown>, outcome: SettleOutcome): void;
}

/**
 * @internal What the consumer makes of settle records, for every link's settler: the final
 * outcome of each request (decided once), and, once a batch is written, everything that follows
 * from it, in one place: counts, the log line, the `settled` event, telemetry, outage probes, then
 * the in-flight table (which frees the prefetch slots, and so grants credit) once per batch.
 */
export class SettlePolicy implements SettlerHost {
  readonly #host: SettlePolicyHost;

  constructor(host: SettlePolicyHost) {
    this.#host = host;
  }

  /**
   * An acceptance ends an outage (told when decided, not when written a turn later, so that one
   * decided before an outage began does not end it); a retry during an outage is a hand-back,
   * `released` with its count unchanged: the sink is down, not the message.
   */
  decide({ delivery, requested, cause }: SettleRecord): WireOutcome {
    const outage = this.#host.outage;
    if (outage === undefined) return requested;
    if (requested === 'accepted') outage.accepting();
    return requested === 'retried' && outage.noteFailure(delivery, cause, false) ? 'released' : requested;
  }

  settled(batch: readonly SettledDelivery[]): void {
    const { table, logger, outage, telemetry } = this.#host;
    for (const { delivery, outcome, sent } of batch) {
      if (!sent) {
        this.#host.reportError(
          new OutreachError(
            'DELIVERY_LOST',
            `delivery ${String(delivery.messageId)} could not be ${outcome}: its connection was lost; the broker will deliver it again`,
            { retryable: true },
          ),
          'settle',
        );
      } else {
        table.count(outcome);
        const warn = outcome === 'retried' || outcome === 'rejected';
        // One line per message: its fields built only for a logger of yours.
        if (warn || logger !== silentLogger) {
          const fields = { messageId: delivery.messageId, deliveryCount: delivery.deliveryCount, outcome };
          if (warn) logger.warn(fields, 'delivery not accepted');
          else logger.debug(fields, 'settled');
        }
      }
      const final = sent ? outcome : 'lost';
      this.#host.settled(delivery, final);
      telemetry.settled(delivery, final); // telemetry hook
      outage?.settled(delivery, final);
    }
    // A delivery settled before user code is done with it (at-most-once) keeps its slot until then.
    table.settled(batch.map((s) => s.delivery));
  }
}
