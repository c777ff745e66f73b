import type { Delivery as RheaDelivery } from 'rhea';
import { flushDispositionsBefore, sessionOf } from './rhea-internals.js';

/**
 * @internal Acceptances, written in runs. ActiveMQ sends each transfer on its own, so a receiver
 * that accepts in rhea as each message is done writes one disposition frame (one TLS record, one
 * socket write) per message; so does a bare rhea receiver. Acceptances wait here until the event
 * loop has read what the socket holds (`setImmediate`), then go to rhea together: it writes
 * adjacent delivery ids with the same outcome as one frame (`first`..`last`). ActiveMQ acknowledges
 * each id of a range (measured, `wire-facts.test.ts`).
 *
 * Any other outcome, and closing a link, first writes what waits here (`flushAcceptances`), so
 * dispositions leave in the order they were decided. An acceptance that waits here when its
 * connection is lost is never sent: the broker delivers the message again, as it would for one
 * that rhea had not yet written. So an acceptance counts as sent only when it is written: the
 * waiting one decides then (`writeAcceptance`) whether its connection is still there.
 */
export interface PendingAcceptance {
  /** The rhea delivery the acceptance is for. */
  readonly wire: RheaDelivery;
  /** Writes the acceptance (`wire.accept()`) if its connection is still there, and says which. */
  writeAcceptance(): void;
}

const waiting: PendingAcceptance[] = [];
let scheduled = false;

/** Accepts `delivery` in rhea after the reads of this turn of the event loop. */
export function acceptSoon(delivery: PendingAcceptance): void {
  waiting.push(delivery);
  if (scheduled) return;
  scheduled = true;
  setImmediate(flushAcceptances);
}

/** Hands every waiting acceptance to rhea now, in the order they were made. */
export function flushAcceptances(): void {
  scheduled = false;
  if (waiting.length === 0) return;
  let session: unknown;
  for (const delivery of waiting.splice(0)) {
    // Another outcome rhea has not written yet (a release or rejection decided since these
    // acceptances were) goes out first: rhea would give an adjacent acceptance its outcome in the
    // same frame (see flushDispositionsBefore). Checked once per session: the rest are acceptances.
    const own = sessionOf(delivery.wire);
    if (own !== session) {
      session = own;
      flushDispositionsBefore(delivery.wire, true);
    }
    delivery.writeAcceptance();
  }
}

/** How many acceptances wait (for tests). */
export function waitingAcceptances(): number {
  return waiting.length;
}
