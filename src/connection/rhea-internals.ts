import type { Connection, Delivery as RheaDelivery, Receiver } from 'rhea';

// Every undocumented part of rhea this library touches, named here and nowhere else.
// test/unit/rhea-internals.test.ts checks each against the installed rhea over loopback (no
// broker), so an upgrade of rhea that changes one of them fails that test, not a user.

/** @internal The names of the timers rhea keeps on a connection for AMQP heartbeats. */
export const RHEA_TIMER_KEYS = ['heartbeat_in', 'heartbeat_out', 'abort_idle'] as const;

/** @internal The socket parts of a rhea connection that the typings leave out. */
export interface RheaSocket {
  destroy?: () => void;
  destroyed?: boolean;
  /** Node's `closed` (streams since Node 18): true from destroy() on, before 'close' is emitted. */
  closed?: boolean;
  once(event: 'close', listener: () => void): unknown;
  on?(event: 'data', listener: () => void): unknown;
}

/** @internal A connection's socket (`connection.socket`), if it has one. */
export function socketOf(connection: Connection): RheaSocket | undefined {
  return (connection as Connection & { socket?: RheaSocket }).socket;
}

/**
 * @internal Clears rhea's heartbeat and abort timers of a connection whose socket we destroyed.
 * rhea clears them itself only when its socket ends or fails, which a local destroy() never
 * signals; left alone, the idle timer keeps the process alive for 2 x idle_time_out and then
 * writes to the dead socket.
 */
export function clearRheaTimers(connection: Connection): void {
  const timers = connection as unknown as Record<(typeof RHEA_TIMER_KEYS)[number], ReturnType<typeof setTimeout> | undefined>;
  for (const key of RHEA_TIMER_KEYS) {
    const timer = timers[key];
    if (timer !== undefined) {
      clearTimeout(timer);
      timers[key] = undefined;
    }
  }
}

/**
 * @internal Sets the idle timeout rhea itself enforces on a connection whose Open frame has gone
 * out (`connection.local.open.idle_time_out`). rhea writes that one field into its Open and also
 * gives a silent peer twice it before closing; after the Open only the second use remains, read
 * again at every input.
 */
export function setRheaIdleTimeout(connection: Connection, ms: number): void {
  (connection as unknown as { local: { open: { idle_time_out?: number } } }).local.open.idle_time_out = ms;
}

/**
 * @internal The `source` of the attach frame the peer sent for a receiver (`receiver.remote.attach`),
 * or `undefined` before one came.
 */
export function remoteAttachSource(receiver: Receiver): { readonly present: boolean; readonly source: unknown } {
  const attach = (receiver as unknown as { remote?: { attach?: { source?: unknown } } }).remote?.attach;
  return attach === undefined ? { present: false, source: undefined } : { present: true, source: attach.source };
}

/**
 * @internal Whether an attach field holds no terminus. rhea keeps untyped fields as it decoded them:
 * an AMQP null arrives as a typed wrapper whose `value` is null (a real terminus has a list there).
 */
export function isNullTerminus(field: unknown): boolean {
  if (field === null || field === undefined) return true;
  return typeof field === 'object' && 'value' in field && (field as { value: unknown }).value === null;
}

/**
 * @internal Ends a drain on rhea's side. rhea keeps a receiver's `drain` flag set after the peer
 * answered, which would make every later flow frame a drain request.
 */
export function clearDrainFlag(receiver: Receiver): void {
  receiver.drain = false;
}

/** The parts of rhea's session that hold dispositions not yet written. */
interface RheaIncoming {
  updated: { state?: { descriptor?: { value?: unknown } } }[];
  process(session: unknown): void;
}

/**
 * @internal Works around a rhea 3.0.x bug before a delivery is settled. rhea writes the
 * dispositions of one tick in runs of adjacent delivery ids, and when a run holds a single
 * delivery it adds the next one without comparing their outcomes (`write_dispositions`: the
 * state check is skipped while `first === last`). Two adjacent deliveries settled differently in
 * one tick then both get the FIRST one's outcome: a message to be retried is accepted (lost), a
 * good one rejected (dead-lettered). Measured by test/integration/outage.test.ts and reproduced
 * against a rhea peer in test/unit/rhea-internals.test.ts. So: when dispositions are pending and
 * either the pending ones or this one are not plain acceptances, write the pending ones first.
 * Runs of acceptances (the common case) stay batched.
 */
export function flushDispositionsBefore(delivery: RheaDelivery, accepting: boolean): void {
  const session = sessionOf(delivery);
  const incoming = session?.incoming;
  if (incoming === undefined || incoming.updated.length === 0) return;
  if (accepting && incoming.updated.every((d) => d.state?.descriptor?.value === ACCEPTED_DESCRIPTOR)) return;
  incoming.process(session);
}

/** @internal The rhea session that carries `delivery` (`undefined` if rhea changed its shape). */
export function sessionOf(delivery: RheaDelivery): { incoming?: RheaIncoming } | undefined {
  return (delivery as unknown as { link?: { session?: { incoming?: RheaIncoming } } }).link?.session;
}

/** The AMQP descriptor code of the `accepted` outcome. */
const ACCEPTED_DESCRIPTOR = 0x24;
