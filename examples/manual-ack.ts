// The `manual` strategy: your handler settles every delivery itself. It stores the outreach, then
// calls `delivery.accept()`; on failure it calls `retry(error)` (back to the queue, count + 1) while
// attempts remain, then `reject()` (the broker dead-letters it). And what happens when you forget:
// an unsettled delivery keeps its prefetch slot, the queue never counts as drained, and `close()`
// waits for it until its deadline, then hands it back unchanged (`released`): nothing is lost,
// the next consumer gets it again.
//
//   npm run example:manual            (embedded default; or set CIVITAS_URL & co.)
//
// On the embedded default it puts three made-up outreach after the samples: one the store refuses
// once ("flaky"), one it always refuses ("poison"), and one the handler forgets to settle.
import { manual, OutreachConsumer, type CloseReport, type OutreachDelivery } from 'civitas-outreach';
import { makeOutreachMessage } from 'civitas-outreach/testing';
import { exampleConnection } from './dev-broker.js';

const MAX_ATTEMPTS = 3;
const connection = await exampleConnection(20);
const [flaky, poison, forgotten] = [9001, 9002, 9003].map((seed) => makeOutreachMessage({ seed, students: 1 }));
await connection.publish?.([flaky!, poison!, forgotten!].map((m) => JSON.stringify(m)));
const special = connection.publish === undefined ? 0 : 3;

/** Your sink: here in memory. It refuses "flaky" on its first attempt and "poison" always. */
const stored = new Map<string, number>();
async function store(delivery: OutreachDelivery): Promise<void> {
  const id = delivery.outreach.outreachId;
  if (id === poison!.outreachId) throw new Error('the CRM refuses this record');
  if (id === flaky!.outreachId && delivery.deliveryCount === 0) throw new Error('the CRM timed out');
  stored.set(id, (stored.get(id) ?? 0) + 1);
}

const consumer = new OutreachConsumer({ ...connection.options, prefetch: 10, strategy: manual() });
consumer.on('error', (err, source) => {
  if (source !== 'handler') console.warn(`[${source}] ${err.code}: ${err.message}`);
});
consumer.on('settled', (delivery, outcome) => {
  if (outcome !== 'accepted') console.log(`settled ${String(delivery.messageId)}: ${outcome} (attempt ${delivery.deliveryCount + 1})`);
});

await consumer.start(
  async (delivery) => {
    // With manual(), a throw from here settles nothing: catch and decide yourself.
    try {
      if (delivery.outreach.outreachId === forgotten!.outreachId) {
        console.log(`handled ${delivery.outreach.outreachId} but forgot to settle it`);
        return; // the bug: no accept(), no retry()
      }
      await store(delivery);
      delivery.accept(); // only after the store has it
    } catch (error) {
      const attempt = delivery.deliveryCount + 1;
      if (attempt < MAX_ATTEMPTS) {
        // ActiveMQ re-dispatches at once; wait first if your sink needs time.
        console.log(`attempt ${attempt} of ${delivery.outreach.outreachId} failed (${(error as Error).message}): retry`);
        delivery.retry(error);
      } else {
        console.log(`attempt ${attempt} of ${delivery.outreach.outreachId} failed (${(error as Error).message}): reject`);
        // Keep your own copy first (delivery.body): on Amazon MQ only Civitas can read the DLQ.
        delivery.reject(`failed ${attempt} attempts`);
      }
    }
  },
  { concurrency: 4 },
);

const closeWith = async (deadlineMs: number): Promise<CloseReport> => {
  const report = await consumer.close({ deadlineMs });
  console.log('closed:', report);
  return report;
};
process.once('SIGINT', () => void closeWith(20_000));

if (connection.embedded) {
  // Everything is settled but the forgotten delivery: it still holds a slot, so `drained` never
  // fires. Wait for the rest, look at health(), then close with a short deadline.
  const total = connection.samples + special;
  const settledOnce = (): number => consumer.health().counts.accepted + consumer.health().counts.rejected;
  while (settledOnce() < total - 1) await new Promise((r) => setTimeout(r, 50));
  console.log(`unsettled and still held: ${consumer.health().held}`);
  const report = await closeWith(2_000);
  console.log(`close() waited until its deadline (timedOut: ${report.timedOut}) and released the forgotten delivery`);

  // A second consumer: the forgotten message is back on the queue, with its count unchanged.
  const again = new OutreachConsumer({ ...connection.options, strategy: manual() });
  await again.start(async (delivery) => {
    await store(delivery);
    delivery.accept();
    console.log(`second consumer stored ${delivery.outreach.outreachId} (attempt ${delivery.deliveryCount + 1}) and accepted it`);
  });
  await new Promise<void>((resolve) => again.once('drained', resolve));
  await again.close();
  console.log(`stored ${stored.size} outreach; ${String(stored.get(flaky!.outreachId))} copy of the flaky one, ${stored.has(poison!.outreachId) ? 'the poison one too' : 'not the poison one'}`);
  await connection.stop();
}
