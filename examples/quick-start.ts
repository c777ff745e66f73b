// The README's quick start, as it is shown there (test/unit/readme.test.ts keeps the two the same):
// consume from your queue, settle each message after your sink took it, stop on SIGTERM.
//
//   CIVITAS_URL=amqp+ssl://b-…-1.mq.….amazonaws.com:5671,amqp+ssl://b-…-2.mq.….amazonaws.com:5671 \
//   CIVITAS_USERNAME=… CIVITAS_PASSWORD=… CIVITAS_QUEUE=… npx tsx examples/quick-start.ts
//
// Amazon MQ's certificates are publicly trusted. For a private broker, trust its CA with Node's
// NODE_EXTRA_CA_CERTS=ca.pem (the other examples also read CIVITAS_CA, as the command line does).
import { OutreachConsumer } from 'civitas-outreach';
import { upsert } from './my-crm.js'; // your sink

const consumer = new OutreachConsumer({
  url: process.env.CIVITAS_URL!.split(','), // both endpoints, as the AWS console shows them
  username: process.env.CIVITAS_USERNAME!,
  password: process.env.CIVITAS_PASSWORD!,
  queue: process.env.CIVITAS_QUEUE!,
});
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));
await consumer.start((delivery) => upsert(delivery.outreach)); // accepted once upsert resolves
process.once('SIGTERM', () => void consumer.close({ deadlineMs: 20_000 }));
