// What the consumer benchmarks share.
import { randomUUID } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import rhea, { type Connection } from 'rhea';
import type { BrokerHandle } from '../scripts/activemq.mjs';
import type { OutreachConsumer } from '../src/index.js';

/**
 * Starts `consumer` with a handler that only counts (event API, `concurrency` at once, or with no
 * start options at all for `'default'`) and returns the milliseconds until `count` messages were
 * handled; then closes it and checks that each was accepted.
 */
export async function timedDrain<A>(consumer: Pick<OutreachConsumer<A>, 'start' | 'close'>, count: number, concurrency: number | 'default' = 8): Promise<number> {
  let got = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const started = performance.now();
  const handler = async (): Promise<void> => {
    if (++got === count) finish();
  };
  await (concurrency === 'default' ? consumer.start(handler) : consumer.start(handler, { concurrency }));
  await all;
  const ms = performance.now() - started;
  const report = await consumer.close();
  if (report.accepted !== count) throw new Error(`accepted ${report.accepted} of ${count}`);
  return ms;
}

/** Median, min and max of a list of numbers. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(xs: readonly number[]): Spread {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)]!, min: s[0]!, max: s.at(-1)! };
}

/**
 * Adds one figure to the file named by `BENCH_JSON` (a JSON object per line), for `npm run bench`
 * to gather into docs/benchmarks.md; does nothing when it is not set.
 */
export function record(bench: string, name: string, figure: object): void {
  const file = process.env.BENCH_JSON;
  if (file === undefined || file === '') return;
  appendFileSync(file, `${JSON.stringify({ bench, name, ...figure })}\n`);
}

/** The consumer options that point at `queue` on the test broker (TLS, its CA, its user). */
export function brokerOptions(broker: BrokerHandle, queue: string): { url: string; username: string; password: string; queue: string; ca: string } {
  return { url: broker.amqpsUrl, username: broker.username, password: broker.password, queue, ca: broker.caPem };
}

/** A bare rhea connection to the test broker (TLS with its CA, its user, no reconnect). */
export function rheaConnect(broker: BrokerHandle): Connection {
  const container = rhea.create_container({ id: `bench-${randomUUID()}` });
  return container.connect({
    host: '127.0.0.1', port: broker.amqpsPort, transport: 'tls', ca: broker.caPem, servername: '',
    username: broker.username, password: broker.password, reconnect: false,
  } as Parameters<typeof container.connect>[0]);
}

/**
 * CPU time (user + system, ms) used so far by the processes of process group `pgid` (the broker:
 * its start script and the JVM), from /proc; 0 where /proc is not there (not Linux).
 */
export function groupCpuMs(pgid: number): number {
  let ticks = 0;
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return 0;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // gone meanwhile
    }
    // pid (comm) state ppid pgrp ... utime(14) stime(15): split after the command name's ')'
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) !== pgid) continue;
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10; // USER_HZ is 100 on Linux
}
