// The async-iterator API: one delivery at a time; the consumer accepts each when the loop asks
// for the next one.
//
//   npm run example:iterator          (embedded default; or set CIVITAS_URL & co.)
import { indexProperties, OutreachConsumer } from 'civitas-outreach';
import { exampleConnection } from './dev-broker.js';

const connection = await exampleConnection(20);
const consumer = new OutreachConsumer({ ...connection.options, prefetch: 10 });
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));

let count = 0;
for await (const delivery of consumer) {
  const { outreach } = delivery;
  const props = indexProperties(outreach);
  console.log(
    `${outreach.outreachId} ${outreach.outreachSource}/${outreach.outreachMedium}: ` +
      `${outreach.students.length} student(s), result ${props.get('outreachMediumResult') ?? '-'}, attempt ${delivery.deliveryCount + 1}`,
  );
  // Leaving the body normally means "done": the consumer accepts it when the loop asks for the
  // next one. To report a failure and go on, catch it and call `delivery.retry(error)`: it counts
  // towards outage detection. `break` (or a throw) releases the delivery in hand and closes the
  // consumer.
  if (connection.embedded && ++count === connection.samples) break;
}
console.log('iterator done; state:', consumer.state);
await connection.stop();
