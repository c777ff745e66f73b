// Writing your own acknowledgement strategy (the AckStrategy interface): accept after success; on
// failure retry after a delay of its own, and after N attempts store the message in a "parking"
// store of yours and accept it, instead of rejecting it into the broker's dead-letter queue (on
// Amazon MQ only Civitas can read that one). Public API only.
//
//   npm run example:own-strategy      (embedded default; or set CIVITAS_URL & co.)
//
// On the embedded default it puts two made-up outreach after the samples: one the CRM refuses
// twice and then takes ("flaky"), one it always refuses ("poison"), which ends up parked.
import { appendFile, mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OutreachConsumer, OutreachError, type AckStrategy, type OutreachDelivery } from 'civitas-outreach';
import { makeOutreachMessage } from 'civitas-outreach/testing';
import { exampleConnection } from './dev-broker.js';
import { rawBodyBytes } from './raw-body.js';

/** Options of {@link retryThenPark}. */
interface RetryThenParkOptions {
  /** Attempts in all, counting the first (read from the broker's delivery count). */
  readonly attempts: number;
  /** Wait before attempt n + 1 after attempt n failed. */
  readonly delayMs: (attempt: number) => number;
  /** Stores a message that failed every attempt, durably; it is accepted only after this resolves. */
  readonly park: (delivery: OutreachDelivery<unknown>, error: unknown) => Promise<void>;
}

/** Accept after success; retry with a delay; after `attempts`, park and accept. */
function retryThenPark(options: RetryThenParkOptions): AckStrategy {
  if (!Number.isInteger(options.attempts) || options.attempts < 1) throw new OutreachError('INVALID_ARGUMENT', 'retryThenPark: attempts must be at least 1');
  return {
    name: 'retry-then-park',
    onSuccess(delivery) {
      if (!delivery.settled) delivery.accept();
    },
    async onFailure(delivery, error, context) {
      // Settled by your code already, or lost with its connection (the broker sends it again).
      if (delivery.settled || delivery.outcome !== undefined) return;
      // Your sink is down, not this message: the consumer has handed it back, attempts not spent.
      if (context.noteFailure(delivery, error)) return;
      const attempt = delivery.deliveryCount + 1;
      if (attempt < options.attempts) {
        // Waits outside the handler's concurrency slots; ends early on close() or an outage.
        await context.wait(options.delayMs(attempt));
        if (!delivery.settled) delivery.retry(error);
        return;
      }
      try {
        await options.park(delivery, error);
      } catch (parkError) {
        // The parking store failed too: keep the message on the queue rather than lose it.
        context.reportError(new OutreachError('HANDLER_FAILED', `parking ${String(delivery.messageId)} failed; retried`, { cause: parkError }), 'handler');
        await context.wait(options.delayMs(attempt));
        if (!delivery.settled) delivery.retry(parkError);
        return;
      }
      if (!delivery.settled) delivery.accept();
    },
  };
}

// ---- using it --------------------------------------------------------------------------------

const connection = await exampleConnection(30);
const [flaky, poison] = [9101, 9102].map((seed) => makeOutreachMessage({ seed, students: 1 }));
await connection.publish?.([flaky!, poison!].map((m) => JSON.stringify(m)));
const special = connection.publish === undefined ? 0 : 2;

// The parking store: a JSON-lines file here; a table of yours in production. It keeps the body's
// bytes as they arrived (student data: store it as such) and why it was parked.
const parkingFile = join(await mkdtemp(join(tmpdir(), 'outreach-parking-')), 'parked.jsonl');
const park = async (delivery: OutreachDelivery<unknown>, error: unknown): Promise<void> => {
  const body = rawBodyBytes(delivery.body)?.toString('base64') ?? null;
  const line = { messageId: delivery.messageId, attempts: delivery.deliveryCount + 1, error: (error as Error).message, bodyBase64: body };
  await appendFile(parkingFile, `${JSON.stringify(line)}\n`, { flush: true });
  console.log(`parked ${String(delivery.messageId)} after ${line.attempts} attempts`);
};

const stored = new Set<string>();
const consumer = new OutreachConsumer({
  ...connection.options,
  prefetch: 10,
  strategy: retryThenPark({ attempts: 3, delayMs: (attempt) => 200 * attempt, park }),
});
consumer.on('error', (err, source) => {
  if (source === 'handler') console.log(`handler failed: ${(err.cause as Error).message}`);
  else console.warn(`[${source}] ${err.code}: ${err.message}`);
});

await consumer.start(
  async (delivery) => {
    const id = delivery.outreach.outreachId;
    if (id === poison!.outreachId) throw new Error(`CRM refuses ${id}`);
    if (id === flaky!.outreachId && delivery.deliveryCount < 2) throw new Error(`CRM timed out on ${id}`);
    stored.add(id); // your CRM call here
  },
  { concurrency: 4 },
);

const shutdown = async (): Promise<void> => console.log('closed:', await consumer.close({ deadlineMs: 20_000 }));
process.once('SIGINT', () => void shutdown());

if (connection.embedded) {
  await new Promise<void>((resolve) => consumer.once('drained', resolve));
  await shutdown();
  const parked = (await readFile(parkingFile, 'utf8')).trim().split('\n').map((l) => JSON.parse(l) as { bodyBase64: string });
  const parkedIds = parked.map((p) => (JSON.parse(Buffer.from(p.bodyBase64, 'base64').toString('utf8')) as { outreachId: string }).outreachId);
  console.log(`stored ${stored.size} of ${connection.samples + special} outreach; flaky stored: ${stored.has(flaky!.outreachId)}`);
  console.log(`parking file holds ${parked.length} message(s): poison parked: ${parkedIds.includes(poison!.outreachId)}`);
  await connection.stop();
}
