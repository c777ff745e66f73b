// The event API: a handler with its own concurrency, lifecycle events, bounded retries with a
// dead-letter hook, and duplicate skipping.
//
//   npm run example:events            (embedded default; or set CIVITAS_URL & co.)
import { atLeastOnce, DuplicateFilter, OutreachConsumer } from 'civitas-outreach';
import { exampleConnection } from './dev-broker.js';

const connection = await exampleConnection(50);
const seen = new DuplicateFilter({ maxKeys: 100_000 });
let stored = 0;

const consumer = new OutreachConsumer({
  ...connection.options,
  prefetch: 20,
  strategy: atLeastOnce({
    maxAttempts: 5,
    retryDelayMs: 2_000,
    // After 5 failed attempts: keep your own copy before the broker dead-letters it.
    onDeadLetter: (delivery, error) => console.error(`dead-lettering ${String(delivery.messageId)}`, error),
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
    if (seen.has(id)) return; // a redelivery after a reconnect: already stored
    await new Promise((r) => setTimeout(r, 5)); // your CRM call here; throw to retry
    stored++;
    seen.remember(id);
  },
  { concurrency: 4 },
);

process.once('SIGINT', () => void consumer.close());
if (connection.embedded) {
  while (stored < connection.samples) await new Promise((r) => setTimeout(r, 50));
  console.log(`stored ${stored} outreach; health:`, consumer.health());
  await consumer.close();
  await connection.stop();
}
