// The Salesforce recipe (examples/salesforce) against the real test broker and a LOCAL STAND-IN
// FOR SALESFORCE (examples/salesforce/stand-in.ts), not Salesforce: an HTTP server that answers
// the sObject Collections upsert as Salesforce documents it. The consumer is wired as the example
// wires it (salesforceConsumerOptions, SalesforceTaskSink, one jsforce Connection).
import jsforce from 'jsforce';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OutreachConsumer, type CloseReport, type Outreach, type SettleOutcome } from '../../src/index.js';
import { exampleOutreachMessages, makeOutreachMessages, type OutreachWireMessage } from '../../src/testing/index.js';
import { SalesforceTaskSink, salesforceConsumerOptions, TASK_KEY_FIELD, TaskRecordError } from '../../examples/salesforce/salesforce-sink.js';
import { startSalesforceStandIn, type SalesforceStandIn } from '../../examples/salesforce/stand-in.js';
import { consumerOptions, dlqSize, expectQueueSize, sendAmqp, sharedBroker, uniqueQueue, waitFor } from './support.js';

const broker = sharedBroker();
const TOKEN = 'test-token';
const VERSION = '62.0';
const UPSERT_PATH = `/services/data/v${VERSION}/composite/sobjects/Task/${TASK_KEY_FIELD}`;

let standIn: SalesforceStandIn;
beforeEach(async () => {
  standIn = await startSalesforceStandIn({ accessToken: TOKEN });
});
afterEach(async () => {
  await standIn.close();
});

const studentsOf = (messages: readonly OutreachWireMessage[]): number => messages.reduce((n, m) => n + m.students.length, 0);

interface Run {
  readonly consumer: OutreachConsumer<Outreach>;
  /** Outcomes by outreachId, in order. */
  readonly outcomes: Map<string, SettleOutcome[]>;
  readonly deadLettered: { outreachId: string; error: unknown }[];
  readonly outages: string[];
  readonly recoveries: number;
  readonly created: number;
  readonly updated: number;
  close(): Promise<CloseReport>;
}

/** Starts the recipe's consumer on `queue`, as drain-to-salesforce.ts does, with short test delays. */
async function startRecipe(queue: string): Promise<Run> {
  const conn = new jsforce.Connection({ instanceUrl: standIn.instanceUrl, accessToken: TOKEN, version: VERSION });
  const concurrency = 20;
  const sink = new SalesforceTaskSink(conn, { maxOutreach: concurrency, maxWaitMs: 50 });
  const run = {
    outcomes: new Map<string, SettleOutcome[]>(),
    deadLettered: [] as { outreachId: string; error: unknown }[],
    outages: [] as string[],
    recoveries: 0,
    created: 0,
    updated: 0,
  };
  const consumer = new OutreachConsumer(
    consumerOptions(broker, queue, {
      prefetch: 2 * concurrency,
      ...salesforceConsumerOptions({
        maxAttempts: 3,
        retryDelayMs: 50,
        probeDelayMs: 200,
        maxProbeDelayMs: 1000,
        onDeadLetter: (delivery, error) => void run.deadLettered.push({ outreachId: delivery.outreach.outreachId, error }),
      }),
    }),
  );
  consumer.on('settled', (delivery, outcome) => {
    const id = (delivery.outreach as Outreach | undefined)?.outreachId ?? 'undecodable';
    run.outcomes.set(id, [...(run.outcomes.get(id) ?? []), outcome]);
  });
  consumer.on('outage', ({ reason }) => void run.outages.push(reason));
  consumer.on('recovered', () => void run.recoveries++);
  await consumer.start(
    async (delivery) => {
      const summary = await sink.upsert(delivery.outreach);
      run.created += summary.created;
      run.updated += summary.updated;
    },
    { concurrency },
  );
  return Object.assign(run, { consumer, close: () => consumer.close({ deadlineMs: 10_000 }) });
}

/** Every request was the one upsert call jsforce makes, with at most 200 records. */
function expectOnlyCollectionUpserts(): void {
  expect(standIn.calls.length).toBeGreaterThan(0);
  for (const call of standIn.calls) {
    expect(`${call.method} ${call.path}`).toBe(`PATCH ${UPSERT_PATH}`);
    expect(call.records).toBeLessThanOrEqual(200);
  }
}

describe('Salesforce recipe (against the local stand-in, not Salesforce)', () => {
  it('stores one Task per (outreach, student), mapped from the outreach, in batched PATCH requests', async () => {
    const queue = uniqueQueue('sf');
    const spec = exampleOutreachMessages();
    const messages = [spec.illumeStudentsCampaign, spec.inspireForAdvisors, spec.inspireForFaculty, ...makeOutreachMessages(117, { seed: 301 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const run = await startRecipe(queue);
    await waitFor(() => standIn.tasks.size === studentsOf(messages), 'a Task per student');
    await expectQueueSize(broker, queue, 0);
    const report = await run.close();

    expect(report.accepted).toBe(messages.length);
    expect(run.created).toBe(studentsOf(messages));
    expect(run.updated).toBe(0);
    for (const m of messages) for (const s of m.students) expect(standIn.tasks.has(`${m.outreachId}:${String(s.institutionPersonID)}`)).toBe(true);
    expectOnlyCollectionUpserts();
    // Batched: far fewer requests than outreach (20 outreach or 200 records a request).
    expect(standIn.calls.length).toBeLessThan(messages.length / 5);

    const illume = spec.illumeStudentsCampaign;
    const task = standIn.tasks.get(`${illume.outreachId}:${String(illume.students[0]!.institutionPersonID)}`)!.fields;
    expect(task.Subject).toBe(`Illume Students Campaign: ${illume.outreachProperties.find((p) => p.name === 'campaignName')!.value}`);
    expect(task.ActivityDate).toBe('2018-06-11');
    expect(task.Status).toBe('Completed');
    for (const p of illume.outreachProperties) {
      expect(task.Description).toContain(p.valueId === undefined ? `${p.name}: ${p.value}` : `${p.name}: ${p.value} [valueId ${p.valueId}]`);
    }
    expect(task.Description).toContain(`institutionPersonID ${String(illume.students[0]!.institutionPersonID)}`);
  });

  it('a redelivered outreach updates its Tasks instead of duplicating them', async () => {
    const queue = uniqueQueue('sf-redeliver');
    const messages = [...makeOutreachMessages(30, { seed: 401 })];
    const bodies = messages.map((m) => JSON.stringify(m));
    // The first five twice in a row (the copies meet in one request), then everything again later.
    await sendAmqp(broker, queue, [...bodies.slice(0, 5), ...bodies]);
    const first = await startRecipe(queue);
    await waitFor(() => standIn.tasks.size === studentsOf(messages), 'a Task per student');
    await expectQueueSize(broker, queue, 0);
    const firstReport = await first.close();
    expect(firstReport.accepted).toBe(35);
    expect(firstReport.retried).toBe(0); // the copies in one request were sent once, not refused as duplicate external ids
    // Each delivery reports its own Tasks: the five copies report theirs again (created with their twin, or updated).
    expect(first.created + first.updated).toBe(studentsOf(messages) + studentsOf(messages.slice(0, 5)));
    const idsAfterFirst = new Map([...standIn.tasks].map(([key, t]) => [key, t.Id]));

    await sendAmqp(broker, queue, bodies);
    const second = await startRecipe(queue);
    await expectQueueSize(broker, queue, 0);
    await waitFor(() => second.updated === studentsOf(messages), 'every Task updated');
    expect((await second.close()).accepted).toBe(30);

    expect(second.created).toBe(0);
    expect(standIn.tasks.size).toBe(studentsOf(messages));
    expect(new Map([...standIn.tasks].map(([key, t]) => [key, t.Id]))).toEqual(idsAfterFirst);
    // Every Task written at least twice (the twice-sent ones up to three times), none created anew.
    for (const t of standIn.tasks.values()) expect(t.writes).toBeGreaterThanOrEqual(2);
    expectOnlyCollectionUpserts();
  });

  it('REQUEST_LIMIT_EXCEEDED pauses the consumer: messages handed back uncounted, none dead-lettered, all stored afterwards', async () => {
    const queue = uniqueQueue('sf-limit');
    const messages = [...makeOutreachMessages(80, { seed: 501 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const dlqBefore = await dlqSize(broker);
    standIn.failNextRequests(4, 'REQUEST_LIMIT_EXCEEDED');
    const run = await startRecipe(queue);
    await waitFor(() => standIn.tasks.size === studentsOf(messages), 'a Task per student after the limit', 60_000);
    await expectQueueSize(broker, queue, 0);
    const report = await run.close();

    const refused = standIn.calls.filter((c) => c.status === 403);
    expect(refused).toHaveLength(4);
    expect(run.outages).toEqual(['classified']);
    expect(run.recoveries).toBe(1);
    expect(run.deadLettered).toEqual([]);
    expect(report.rejected).toBe(0);
    expect(report.retried).toBe(0); // handed back (released), never retried: no attempt spent
    expect(report.released).toBeGreaterThan(0);
    expect(report.accepted).toBe(messages.length);
    for (const outcomes of run.outcomes.values()) expect(outcomes.filter((o) => o !== 'released')).toEqual(['accepted']);
    expect(await dlqSize(broker)).toBe(dlqBefore);
    expectOnlyCollectionUpserts();
  });

  it('503 SERVER_UNAVAILABLE is an outage too', async () => {
    const queue = uniqueQueue('sf-503');
    const messages = [...makeOutreachMessages(20, { seed: 551 })];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    standIn.failNextRequests(1, 'SERVER_UNAVAILABLE');
    const run = await startRecipe(queue);
    await waitFor(() => standIn.tasks.size === studentsOf(messages), 'a Task per student after the 503');
    await expectQueueSize(broker, queue, 0);
    const report = await run.close();
    expect(standIn.calls.filter((c) => c.status === 503)).toHaveLength(1);
    expect(run.outages).toEqual(['classified']);
    expect(report.retried + report.rejected).toBe(0);
    expect(run.deadLettered).toEqual([]);
  });

  it("a refused record fails only its outreach: retried, then onDeadLetter and rejected; the others are stored", async () => {
    const queue = uniqueQueue('sf-record');
    const messages = [...makeOutreachMessages(40, { seed: 601 })];
    const [poison, flaky] = [messages[7]!, messages[21]!];
    await sendAmqp(broker, queue, messages.map((m) => JSON.stringify(m)));
    const dlqBefore = await dlqSize(broker);
    const ofOutreach = (id: string) => (record: Readonly<Record<string, unknown>>) => String(record[TASK_KEY_FIELD]).startsWith(`${id}:`);
    standIn.failRecords({ match: ofOutreach(poison.outreachId) }); // always: a validation rule
    standIn.failRecords({ match: ofOutreach(flaky.outreachId), times: 1 }); // once
    const run = await startRecipe(queue);
    await waitFor(() => run.deadLettered.length === 1, 'the refused outreach dead-lettered');
    await waitFor(() => standIn.tasks.size === studentsOf(messages) - poison.students.length, 'every other Task');
    await expectQueueSize(broker, queue, 0);
    const report = await run.close();

    expect(run.deadLettered[0]!.outreachId).toBe(poison.outreachId);
    expect(run.deadLettered[0]!.error).toBeInstanceOf(TaskRecordError);
    expect((run.deadLettered[0]!.error as TaskRecordError).failures[0]!.errors[0]!.statusCode).toBe('FIELD_CUSTOM_VALIDATION_EXCEPTION');
    expect(run.outcomes.get(poison.outreachId)).toEqual(['retried', 'retried', 'rejected']);
    expect(run.outcomes.get(flaky.outreachId)).toEqual(['retried', 'accepted']);
    for (const m of messages) if (m !== poison && m !== flaky) expect(run.outcomes.get(m.outreachId)).toEqual(['accepted']);
    for (const s of poison.students) expect(standIn.tasks.has(`${poison.outreachId}:${String(s.institutionPersonID)}`)).toBe(false);
    expect(run.outages).toEqual([]);
    expect(report.accepted).toBe(messages.length - 1);
    expect(await dlqSize(broker)).toBe(dlqBefore + 1);
  });
});
