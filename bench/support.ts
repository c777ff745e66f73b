// What the consumer benchmarks share.
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
