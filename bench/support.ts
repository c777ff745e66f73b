// What the consumer benchmarks share.
import { appendFileSync } from 'node:fs';
import type { BrokerHandle } from '../scripts/activemq.mjs';
import type { OutreachConsumer } from '../src/index.js';

/**
 * Starts `consumer` with a handler that only counts (event API, `concurrency` at once) and
 * returns the milliseconds until `count` messages were handled; then closes it and checks that
 * each was accepted.
 */
export async function timedDrain<A>(consumer: Pick<OutreachConsumer<A>, 'start' | 'close'>, count: number, concurrency = 8): Promise<number> {
  let got = 0;
  let finish!: () => void;
  const all = new Promise<void>((r) => (finish = r));
  const started = performance.now();
  await consumer.start(
    async () => {
      if (++got === count) finish();
    },
    { concurrency },
  );
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
