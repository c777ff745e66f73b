// What the consumer writes on the wire while it drains a backlog: acceptances in runs (one AMQP
// disposition for a range of delivery ids), credit in steps of a quarter of the window, and no
// drain (the dry check) while messages still flow. Frames are counted at rhea's frame writer, for
// the consumer's connection only. These are the throughput fixes of docs/delivery-guarantees.md
// ("What goes on the wire"); the figures they bought are in docs/benchmarks.md and docs/development.md.
import { createRequire } from 'node:module';
import { afterEach, describe, expect, it } from 'vitest';
import { OutreachConsumer } from '../../src/index.js';
import { makeOutreachMessages } from '../../src/testing/index.js';
import { consumerOptions, expectQueueSize, queueStatsOf, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();

interface RheaConnectionClass {
  prototype: { _write_frame(this: { container?: { id?: string } }, channel: number, frame: object, payload?: unknown): void };
}
const Connection = createRequire(import.meta.url)('rhea/lib/connection.js') as RheaConnectionClass;
const originalWrite = Connection.prototype._write_frame;

interface Written {
  readonly kind: 'disposition' | 'flow' | 'other';
  readonly first?: number;
  readonly last?: number;
  readonly drain?: boolean;
  readonly credit?: number;
}

/** Records the frames written by connections whose container id starts with `prefix`. */
function recordFrames(prefix: string): Written[] {
  const written: Written[] = [];
  Connection.prototype._write_frame = function (channel, frame, payload) {
    if (String(this.container?.id ?? '').startsWith(prefix)) {
      const fields = Object.getOwnPropertyNames(Object.getPrototypeOf(frame));
      const f = frame as { first?: number; last?: number; drain?: boolean; link_credit?: number };
      if (fields.includes('role') && fields.includes('first')) written.push({ kind: 'disposition', first: f.first!, last: f.last ?? f.first! });
      else if (fields.includes('link_credit')) written.push({ kind: 'flow', drain: f.drain === true, credit: f.link_credit ?? 0 });
      else written.push({ kind: 'other' });
    }
    originalWrite.call(this, channel, frame, payload);
  };
  return written;
}

afterEach(() => {
  Connection.prototype._write_frame = originalWrite;
});

describe('what the consumer writes while it drains a backlog', () => {
  it('accepts in runs, grants credit in quarter-window steps, and asks whether the queue is dry only once it is', async () => {
    const queue = uniqueQueue('economy');
    const n = 2000;
    await sendAmqp(broker, queue, [...makeOutreachMessages(n, { seed: 71 })].map((m) => JSON.stringify(m)), { durable: false });
    // The consumer's connections are the only ones open now with the library's container id prefix.
    const written = recordFrames('civitas-outreach-');
    const prefetch = 100;
    const consumer = new OutreachConsumer(consumerOptions(broker, queue, { prefetch }));
    let handled = 0;
    let drainedAt = -1;
    consumer.once('drained', () => (drainedAt = handled));
    await consumer.start(async () => void handled++, { concurrency: 8 });
    await waitFor(() => drainedAt >= 0, 'the backlog to be drained', 120_000);
    await consumer.close();

    expect(drainedAt).toBe(n);
    expect(consumer.health().counts.accepted).toBe(n);
    await expectQueueSize(broker, queue, 0);
    expect(await queueStatsOf(broker, queue)).toMatchObject({ enqueued: n, dequeued: n });

    const dispositions = written.filter((w) => w.kind === 'disposition');
    const covered = dispositions.reduce((sum, d) => sum + (d.last! - d.first! + 1), 0);
    const flows = written.filter((w) => w.kind === 'flow');
    const drains = flows.filter((f) => f.drain);
    console.log(
      `${n} messages, prefetch ${prefetch}: ${dispositions.length} disposition frames (${(covered / dispositions.length).toFixed(1)} ids each), ` +
        `${flows.length} flow frames, ${drains.length} drains`,
    );
    // Every message acknowledged by exactly one range, and far fewer frames than messages
    // (one frame per message when each acceptance goes to rhea on its own).
    expect(covered).toBe(n);
    expect(dispositions.length).toBeLessThanOrEqual(n / 4);
    // One flow per quarter of the window (one per tenth, or per message, before).
    expect(flows.length).toBeLessThanOrEqual(n / (prefetch / 4) + 10);
    // The dry check waits for a quiet moment: no drain while the backlog flows (one per run of
    // ~prefetch messages before), and one at the end, the answer to which is `drained`.
    expect(drains.length).toBeGreaterThanOrEqual(1);
    expect(drains.length).toBeLessThanOrEqual(3);
  });
});
