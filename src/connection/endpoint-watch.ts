import { connect } from 'node:net';
import { sleep } from '../timers.js';
import { isServed } from './connectors.js';
import type { BrokerEndpoint } from './endpoints.js';

// Waiting out a reconnect delay without missing the moment a standby starts to serve. ActiveMQ's
// standby of a shared-store pair (as Amazon MQ runs one) opens its ports only once it holds the
// store's lock: until then a connection is refused at once. So while the consumer waits between
// attempts, it knocks on the endpoints that refused it (a TCP connect, closed as soon as it is
// accepted: no TLS, no login), and the first that accepts ends the wait. An endpoint whose last
// attempt got past TCP (a broker in maintenance that answers and then refuses, a TLS or login
// error) is not knocked on: its back-off stands, so a broker that is up but unwell is not pressed.

/** @internal How often a refusing endpoint is knocked on while the consumer waits. */
export const KNOCK_INTERVAL_MS = 250;
/** @internal How long one knock may take (a host that drops packets never answers). */
export const KNOCK_TIMEOUT_MS = 1_000;

/** Error codes of an attempt that never got a TCP connection: the port was not served. */
const NOT_SERVED = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ETIMEDOUT']);

/** @internal Whether an attempt's error says the endpoint's port was not served (refused, unreachable). */
export function notServed(error: unknown): boolean {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && NOT_SERVED.has(e.code)) return true;
  }
  return false;
}

/** Whether `endpoint`'s port accepts a TCP connection now (closed again at once). */
export function knock(endpoint: BrokerEndpoint, timeoutMs = KNOCK_TIMEOUT_MS): Promise<boolean> {
  const served = isServed(endpoint);
  if (served !== undefined) return Promise.resolve(served);
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    const done = (accepted: boolean): void => {
      clearTimeout(timer);
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(accepted);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * @internal Waits `ms`, or less: resolves with the index (into `endpoints`) of the first of
 * `watched` whose port accepts a connection, or `undefined` when `ms` has passed or `signal` fired.
 */
export async function waitForService(endpoints: readonly BrokerEndpoint[], watched: readonly number[], ms: number, signal: AbortSignal, random: () => number = Math.random): Promise<number | undefined> {
  const end = Date.now() + ms;
  if (watched.length === 0) {
    await sleep(ms, signal);
    return undefined;
  }
  // A random first phase, so that a fleet of consumers does not knock in step.
  await sleep(Math.min(ms, Math.round(random() * KNOCK_INTERVAL_MS)), signal);
  while (!signal.aborted && Date.now() < end) {
    const left = end - Date.now();
    const answers = await Promise.all(watched.map((i) => knock(endpoints[i]!, Math.min(KNOCK_TIMEOUT_MS, Math.max(1, left)))));
    const open = answers.findIndex(Boolean);
    if (open >= 0 && !signal.aborted) return watched[open];
    await sleep(Math.min(KNOCK_INTERVAL_MS, end - Date.now()), signal);
  }
  return undefined;
}
