// A sink job: drain the outreach queue into Salesforce as Tasks, with jsforce 3.
//
//   npm run example:salesforce
//
// With no settings it runs on embedded defaults: a local ActiveMQ broker (TLS with a password, as
// Amazon MQ runs it) with a development queue of sample outreach, and a LOCAL STAND-IN FOR
// SALESFORCE (stand-in.ts: an HTTP server on 127.0.0.1 that answers the one REST call this recipe
// makes; it is not Salesforce). The stand-in answers its first request with Salesforce's rate-limit
// error, to show the consumer pausing and resuming. It prints what it stored and stops.
//
// Against a real org set SF_INSTANCE_URL (https://yourdomain.my.salesforce.com) and
// SF_ACCESS_TOKEN, and SF_API_VERSION if not 62.0. A job without a person signs in with the OAuth
// 2.0 JWT bearer flow: create a connected app (or external client app) with "Use digital
// signatures" and your certificate, the `api` scope (and `refresh_token, offline_access`),
// pre-authorize the integration user's profile or permission set, then exchange a JWT signed with
// the private key for a token (jsforce: `new jsforce.OAuth2({ loginUrl, clientId })` and
// `conn.authorize({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion })`, or
// `sf org login jwt` and `sf org display`). The answer's `instance_url` and `access_token` are
// SF_INSTANCE_URL and SF_ACCESS_TOKEN. The org also needs the Task field Civitas_Outreach_Key__c
// (External ID, Unique) and an integration user with API Enabled and Edit on Task: see
// docs/salesforce.md. The queue: CIVITAS_URL & co. as in the other examples; with a real queue it
// runs until SIGINT/SIGTERM, or until the queue is dry with CIVITAS_EXIT_WHEN_DRAINED=1.
//
// It runs in journal mode (docs/journal.md): every outreach is on this machine's disk before the
// broker forgets it, a Salesforce outage of days waits in the journal rather than on Civitas'
// broker, a mapping bug can be repaired by replaying the journal, and what Salesforce refuses for
// good stays in the journal's own dead letters. CIVITAS_JOURNAL_DIR names the directory (default
// ./civitas-journal; a temporary one on the embedded defaults). It holds student data: protect it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsforce from 'jsforce';
import { OutreachConsumer } from 'civitas-outreach';
import { exampleConnection } from '../dev-broker.js';
import { SalesforceTaskSink, salesforceConsumerOptions } from './salesforce-sink.js';
import { startSalesforceStandIn, type SalesforceStandIn } from './stand-in.js';

const version = process.env.SF_API_VERSION ?? '62.0'; // sObject Collections upsert needs 46.0 or later
let standIn: SalesforceStandIn | undefined;
let instanceUrl = process.env.SF_INSTANCE_URL;
let accessToken = process.env.SF_ACCESS_TOKEN;
if ((instanceUrl === undefined || instanceUrl === '') && process.env.CIVITAS_URL !== undefined) {
  // The stand-in keeps Tasks in memory: draining Civitas' queue into it would lose the messages.
  console.error("CIVITAS_URL is set but SF_INSTANCE_URL is not: refusing to drain Civitas' queue into the local stand-in. Set SF_INSTANCE_URL and SF_ACCESS_TOKEN.");
  process.exit(2);
}
if (instanceUrl === undefined || instanceUrl === '') {
  accessToken = 'stand-in-token';
  standIn = await startSalesforceStandIn({ accessToken });
  instanceUrl = standIn.instanceUrl;
  console.log(`SF_INSTANCE_URL is not set: using the local Salesforce stand-in at ${instanceUrl} (examples/salesforce/stand-in.ts; not Salesforce)`);
  standIn.failNextRequests(1, 'REQUEST_LIMIT_EXCEEDED');
  console.log('the stand-in will answer its first request with REQUEST_LIMIT_EXCEEDED (HTTP 403), as an org over its API limit does');
} else if (accessToken === undefined || accessToken === '') {
  console.error('SF_INSTANCE_URL is set but SF_ACCESS_TOKEN is not: see the comment at the top of this file.');
  process.exit(2);
}
const conn = new jsforce.Connection({ instanceUrl, accessToken, version });

const { options, embedded, samples, stop } = await exampleConnection(200);
const concurrency = 50; // outreach per request at most; their Tasks go out 200 a request at most
const sink = new SalesforceTaskSink(conn, { maxOutreach: concurrency, maxWaitMs: 250 });
let outreach = 0;
let created = 0;
let updated = 0;
let deadLettered = 0;

const temporaryJournal = embedded && process.env.CIVITAS_JOURNAL_DIR === undefined;
const journalDir = temporaryJournal ? await mkdtemp(join(tmpdir(), 'civitas-journal-')) : (process.env.CIVITAS_JOURNAL_DIR ?? './civitas-journal');
console.log(`journal mode: ${journalDir}`);

const consumer = new OutreachConsumer({
  ...options,
  prefetch: 2 * concurrency,
  journal: { dir: journalDir },
  ...salesforceConsumerOptions({
    onDeadLetter: (delivery, error) => {
      deadLettered++;
      // In journal mode it stays in the journal's dead letters (npx civitas-outreach dead-letters
      // --journal DIR), never in the broker's DLQ, which is Civitas'.
      console.error(`giving up on outreach ${delivery.outreach.outreachId}: ${(error as Error).message}`);
    },
    // The stand-in's rate limit is over at once; a real org's daily limit is not.
    ...(standIn === undefined ? {} : { probeDelayMs: 1000 }),
  }),
  onInvalid: (invalid) => console.error(`undecodable message ${String(invalid.messageId)}: ${invalid.error.message}`),
});
consumer.on('error', (err, source) => {
  if (source !== 'handler') console.warn(`[${source}] ${err.code}: ${err.message}`);
});
consumer.on('connected', ({ endpoint }) => console.log(`connected to ${endpoint}`));
consumer.on('outage', ({ reason }) => console.warn(`Salesforce cannot take work (${reason}): paused, messages handed back with their attempts unspent; probing`));
consumer.on('recovered', ({ durationMs, failedProbes }) => console.log(`Salesforce took work again after ${(durationMs / 1000).toFixed(1)} s (${failedProbes} failed probes): resumed`));

const shutdown = async (): Promise<void> => {
  const report = await consumer.close({ deadlineMs: 20_000 });
  console.log('closed:', report);
};
process.once('SIGINT', () => void shutdown());
process.once('SIGTERM', () => void shutdown());

// Each handler waits for the request that carries its outreach's Tasks: the delivery is accepted
// after Salesforce stored them, retried when Salesforce refused one, handed back on a rate limit.
await consumer.start(
  async (delivery) => {
    const summary = await sink.upsert(delivery.outreach);
    outreach++;
    created += summary.created;
    updated += summary.updated;
  },
  { concurrency },
);

if (embedded || process.env.CIVITAS_EXIT_WHEN_DRAINED === '1') {
  await new Promise<void>((resolve) => consumer.once('drained', resolve));
  await shutdown();
  console.log(`stored ${outreach} outreach as Tasks: ${created} created, ${updated} updated; ${deadLettered} dead-lettered`);
  if (standIn !== undefined) {
    const requests = standIn.calls.filter((c) => c.status === 200).length;
    console.log(`the stand-in holds ${standIn.tasks.size} Tasks (one per outreach and student) for ${samples} sample outreach, from ${requests} upsert requests`);
    await standIn.close();
  }
  const journal = consumer.health().journal;
  if (journal !== undefined) console.log(`the journal keeps ${journal.bytes} bytes for replay, ${journal.unhandled} outreach unhandled`);
  if (temporaryJournal) await rm(journalDir, { recursive: true, force: true });
  await stop();
}
