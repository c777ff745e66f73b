// The event API: a handler with its own concurrency, lifecycle events, bounded retries with a
// dead-letter hook, and duplicate skipping. On the embedded default, three more messages follow
// the samples to show each of those at work: one the CRM refuses once (retried, then stored), one
// it always refuses (retried, then the dead-letter hook), and a second copy of an outreach already
// stored (skipped).
//
//   npm run example:events            (embedded default; or set CIVITAS_URL & co.)
import { atLeastOnce, DuplicateFilter, OutreachConsumer, type Outreach } from 'civitas-outreach';
import { makeOutreachMessages } from 'civitas-outreach/testing';
import { exampleConnection } from './dev-broker.js';

const connection = await exampleConnection(50);
const seen = new DuplicateFilter({ maxKeys: 100_000 });
let stored = 0;
let skipped = 0;
let deadLettered = 0;

// The demo's stand-ins for a CRM that times out once, and one that refuses a record for good.
const [flaky, poison, twice] = [...makeOutreachMessages(3, { seed: 4_242 })];
const crm = async (outreachId: string, attempt: number): Promise<void> => {
  await new Promise((r) => setTimeout(r, 5)); // your CRM call here; throw to retry
  if (outreachId === flaky!.outreachId && attempt === 1) throw new Error('the CRM timed out');
  if (outreachId === poison!.outreachId) throw new Error('the CRM refuses this record');
};

const consumer = new OutreachConsumer({
  ...connection.options,
  prefetch: 20,
  strategy: atLeastOnce<Outreach>({
    maxAttempts: 3,
    retryDelayMs: 500,
    // After 3 failed attempts: keep your own copy before the broker dead-letters it.
    onDeadLetter: (delivery, error) => {
      deadLettered++;
      console.log(`dead-letter hook: ${delivery.outreach.outreachId} after ${delivery.deliveryCount + 1} attempts (${(error as Error).message}); keep a copy, then the broker dead-letters it`);
    },
  }),
});

consumer.on('connected', ({ endpoint }) => console.log(`connected to ${endpoint}`));
consumer.on('disconnected', ({ endpoint, error }) => console.warn(`lost ${endpoint}: ${error?.code ?? 'closed'}`));
consumer.on('reconnecting', ({ endpoint, attempt, delayMs }) => console.log(`attempt ${attempt} to ${endpoint} in ${delayMs} ms`));
consumer.on('invalid', (invalid) => console.warn(`undecodable message ${String(invalid.messageId)}: ${invalid.error.message}`));
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));
consumer.on('closed', (report) => console.log('closed', report));

await consumer.start(
  async (delivery) => {
    const id = delivery.outreach.outreachId;
    const attempt = delivery.deliveryCount + 1;
    if (seen.has(id)) {
      skipped++;
      console.log(`skipped duplicate ${id}: already stored`); // e.g. a redelivery after a reconnect
      return;
    }
    try {
      await crm(id, attempt);
    } catch (error) {
      console.log(`${id}: attempt ${attempt} failed (${(error as Error).message})`);
      throw error; // atLeastOnce retries it after retryDelayMs, up to maxAttempts
    }
    if (attempt > 1) console.log(`stored ${id} on attempt ${attempt}`);
    stored++;
    seen.remember(id);
  },
  { concurrency: 4 },
);

process.once('SIGINT', () => void consumer.close());
if (connection.embedded) {
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((r) => setTimeout(r, 50));
  };
  await until(() => stored === connection.samples);
  console.log(`stored the ${stored} samples; now one flaky, one poison and one message sent twice`);
  await connection.publish!([flaky!, poison!, twice!].map((m) => JSON.stringify(m)));
  await until(() => seen.has(twice!.outreachId));
  await connection.publish!([JSON.stringify(twice)]);
  await until(() => skipped === 1 && deadLettered === 1 && seen.has(flaky!.outreachId));
  console.log(`stored ${stored} outreach, skipped ${skipped} duplicate, dead-lettered ${deadLettered}; health:`, consumer.health());
  await consumer.close();
  await connection.stop();
}
