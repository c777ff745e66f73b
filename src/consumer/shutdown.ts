import type { AckContext, AckStrategy } from '../ack/strategy.js';
import type { OutreachError } from '../errors/outreach-error.js';
import type { OutreachLogger } from '../logger.js';
import { asSettleError } from './dispatcher.js';
import type { InFlightTable } from './in-flight.js';

/** @internal What close() needs to wait for the work in hand. */
export interface ShutdownHost<A> {
  readonly table: InFlightTable<A>;
  readonly strategy: AckStrategy<A>;
  readonly context: AckContext<A>;
  readonly logger: OutreachLogger;
  reportError(error: OutreachError, source: 'settle'): void;
}

/**
 * @internal close()'s wait, in order, each step only while `stopped()` is false (its deadline or
 * signal): user code still working finishes; the strategy flushes (a batch); deliveries done but
 * not settled (the manual strategy's) are settled by the user. `aborted` ends a flush that hangs.
 */
export async function awaitWorkInHand<A>(host: ShutdownHost<A>, stopped: () => boolean, aborted: AbortSignal): Promise<void> {
  const { table, strategy } = host;
  while (table.active().length > 0 && !stopped()) await table.changed();
  const flush = strategy.flush;
  if (!stopped() && flush !== undefined) {
    try {
      await Promise.race([Promise.resolve().then(() => flush.call(strategy, host.context)), waitAbort(aborted)]);
    } catch (error) {
      // A strategy that cannot flush must not keep the consumer from closing: what it held
      // stays unsettled and goes back to the queue when the link detaches.
      host.reportError(asSettleError(error), 'settle');
    }
  }
  while (!stopped() && table.awaitingSettlement().length > 0) await table.changed();
}

/**
 * @internal What close() leaves once it stops waiting: deliveries done with user code but not
 * settled are released; those still in user code (or in a commit) stay unsettled, for the broker
 * to deliver again, and are counted as `unfinished`. A commit still running is worth a warning:
 * if it completes, its deliveries may be stored twice.
 */
export function leaveUnsettled(table: InFlightTable<unknown>, logger: OutreachLogger): number {
  const unsettled = table.unsettled();
  const inCommit = unsettled.filter((u) => u.phase === 'commit').length;
  if (inCommit > 0) {
    logger.warn(
      { deliveries: inCommit },
      'a commit of the strategy was still running when close() stopped waiting: its deliveries are left unsettled (the broker delivers them again; if the commit completes, they may be stored twice)',
    );
  }
  let unfinished = 0;
  for (const { delivery, phase } of unsettled) {
    if (phase !== 'done') unfinished++;
    else delivery.release();
  }
  return unfinished;
}

function waitAbort(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
