// A Salesforce sink for outreach, with jsforce 3: each (outreach, student) becomes one Task,
// upserted by an external id so a message delivered twice updates its Tasks instead of
// duplicating them. Upserts go out in batches through sObject Collections (up to 200 records a
// request, allOrNone false); each delivery is accepted only after Salesforce answered for all of
// its Tasks. Used by drain-to-salesforce.ts and by test/integration/salesforce-recipe.test.ts.
//
// What to create in the org (see docs/salesforce.md):
// - on Task (Activity): a Text(255) field `Civitas_Outreach_Key__c`, marked External ID and Unique;
// - an integration user with API Enabled, Edit on Task and access to that field.
//
// Students are not linked to Contacts here (WhoId stays empty). To link them, give Contact an
// External ID field holding the student's institutionPersonID (e.g. `Civitas_Person_Id__c`) and
// either look the Contacts up first (one SOQL query per batch: `SELECT Id, Civitas_Person_Id__c
// FROM Contact WHERE Civitas_Person_Id__c IN (…)`) and set `WhoId`, or keep a map of your own.
// Decide what a student without a Contact means (skip, create a Lead, or leave WhoId empty).
import type { Connection } from 'jsforce';
import {
  atLeastOnce,
  civitasTimestampToDate,
  indexProperties,
  type Outreach,
  type OutreachConsumerOptions,
  type OutreachDelivery,
  type Student,
} from 'civitas-outreach';

/** The Task field holding `${outreachId}:${institutionPersonID}`: External ID + Unique, in your org. */
export const TASK_KEY_FIELD = 'Civitas_Outreach_Key__c';

/** The most records one sObject Collections request may carry. */
export const MAX_RECORDS_PER_REQUEST = 200;

/** A Task as sent to Salesforce. */
export interface TaskRecord {
  readonly attributes: { readonly type: 'Task' };
  readonly [TASK_KEY_FIELD]: string;
  readonly Subject: string;
  readonly Description: string;
  readonly ActivityDate: string;
  readonly Status: string;
}

const SUBJECT_MAX = 255; // Task.Subject
const DESCRIPTION_MAX = 32_000; // Task.Description (Long Text Area 32,000)

const clip = (text: string, max: number): string => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);
const fullName = (first: string | undefined, last: string | undefined): string => [first, last].filter(Boolean).join(' ');

/** The Task's key: one per (outreach, student). */
export function taskKey(outreach: Outreach, student: Student): string {
  return `${outreach.outreachId}:${student.institutionPersonID}`;
}

/**
 * The Tasks of one outreach, one per student. Subject: source, medium and what it was about (the
 * email's subject, else the campaign, reason or topic). Description: who sent it, to whom, and
 * every property with its valueId (labels can be renamed in Civitas; valueIds cannot).
 * ActivityDate: the outreach's day in UTC. Status: Completed (an outreach is a record of something
 * done; `Completed` is a value of the standard Task Status picklist).
 */
export function taskRecords(outreach: Outreach): TaskRecord[] {
  const props = indexProperties(outreach);
  const about = ['emailSubject', 'campaignName', 'outreachReason', 'outreachTopic'].map((name) => props.first(name)?.value).find(Boolean);
  const subject = clip(`${outreach.outreachSource} ${outreach.outreachMedium}${about === undefined ? '' : `: ${about}`}`, SUBJECT_MAX);
  const employee = fullName(outreach.employeeFirstName, outreach.employeeLastName);
  // Decoding checked createdAt, so it reads; its day in UTC (Civitas sends no zone: UTC).
  const day = (civitasTimestampToDate(outreach.createdAt)?.toISOString() ?? outreach.createdAt).slice(0, 10);
  const common = [
    `Civitas outreach ${outreach.outreachId} (${outreach.outreachSource}, ${outreach.outreachMedium}) at ${outreach.createdAt} UTC`,
    `Employee: ${employee === '' ? '(none)' : employee}${outreach.employeeEmail === undefined ? '' : ` <${outreach.employeeEmail}>`}`,
  ];
  const properties = outreach.outreachProperties.map((p) => `- ${p.name}: ${p.value}${p.valueId === undefined ? '' : ` [valueId ${p.valueId}]`}`);
  return outreach.students.map((student) => {
    const who = fullName(student.firstName, student.lastName);
    const studentLine = `Student: ${who === '' ? '' : `${who} `}(institutionPersonID ${student.institutionPersonID}${student.emailAddress === undefined ? '' : `, ${student.emailAddress}`})`;
    return {
      attributes: { type: 'Task' },
      [TASK_KEY_FIELD]: taskKey(outreach, student),
      Subject: subject,
      Description: clip([...common, studentLine, 'Properties:', ...properties].join('\n'), DESCRIPTION_MAX),
      ActivityDate: day,
      Status: 'Completed',
    };
  });
}

/** Errors of the whole request that mean Salesforce (not this message) cannot take work now. */
const OUTAGE_CODES = new Set([
  'REQUEST_LIMIT_EXCEEDED', // 403: the org's API request limit is used up
  'SERVER_UNAVAILABLE', // 503 with Salesforce's error body
  'ERROR_HTTP_503', // 503 without one (jsforce's code for it)
  'INVALID_SESSION_ID', // 401: the token expired; fetch a new one (every request would fail)
]);
/** Network errors (node-fetch's `code`): Salesforce not reachable. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE', 'UND_ERR_SOCKET']);

/**
 * Give this to the consumer as `outage.isOutage`: a rate limit, an unavailable server, an expired
 * token or an unreachable host pauses the consumer (messages handed back, attempts not spent)
 * instead of retrying and dead-lettering each message.
 */
export function isSalesforceOutage(error: unknown): boolean {
  const { errorCode, code } = (error ?? {}) as { errorCode?: unknown; code?: unknown };
  return (typeof errorCode === 'string' && OUTAGE_CODES.has(errorCode)) || (typeof code === 'string' && NETWORK_CODES.has(code));
}

/** One record's error as Salesforce sends it (`statusCode`; jsforce's type calls it `errorCode`). */
export interface RecordError {
  readonly statusCode: string;
  readonly message: string;
  readonly fields: readonly string[];
}

/** Salesforce refused some of an outreach's Tasks: that message's own failure, retried and then dead-lettered. */
export class TaskRecordError extends Error {
  override readonly name = 'TaskRecordError';
  constructor(
    readonly outreachId: string,
    readonly failures: readonly { readonly key: string; readonly errors: readonly RecordError[] }[],
  ) {
    // Keys and Salesforce's codes only: no student names or addresses in logs.
    super(`Salesforce refused ${failures.length} Task(s) of outreach ${outreachId}: ${failures.map((f) => `${f.key} ${f.errors.map((e) => e.statusCode).join(',')}`).join('; ')}`);
  }
}

/** What one outreach's upsert did. */
export interface TaskUpsertSummary {
  readonly created: number;
  readonly updated: number;
}

/** Options of {@link SalesforceTaskSink}. */
export interface SalesforceTaskSinkOptions {
  /** Send a request once this many outreach wait. Match the consumer's `concurrency`. @defaultValue `50` */
  readonly maxOutreach?: number;
  /** Send a smaller request when the first outreach has waited this long. @defaultValue `250` */
  readonly maxWaitMs?: number;
}

interface Waiting {
  readonly outreach: Outreach;
  readonly records: TaskRecord[];
  resolve(summary: TaskUpsertSummary): void;
  reject(error: unknown): void;
}

type UpsertAnswer = { success: boolean; created?: boolean; errors: unknown[] };

/**
 * Collects outreach from concurrent handlers and upserts their Tasks together. `upsert(outreach)`
 * resolves when Salesforce stored all of that outreach's Tasks, and rejects with a
 * {@link TaskRecordError} when it refused some of them, or with the request's error (a rate limit,
 * a network error) when the request failed: so the consumer settles each delivery by its own
 * records, after Salesforce answered.
 */
export class SalesforceTaskSink {
  readonly #conn: Connection;
  readonly #maxOutreach: number;
  readonly #maxWaitMs: number;
  #waiting: Waiting[] = [];
  #records = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Requests go one at a time: gentler on the org's limits, and in order. */
  #sending: Promise<void> = Promise.resolve();

  constructor(conn: Connection, options: SalesforceTaskSinkOptions = {}) {
    this.#conn = conn;
    this.#maxOutreach = options.maxOutreach ?? 50;
    this.#maxWaitMs = options.maxWaitMs ?? 250;
  }

  upsert(outreach: Outreach): Promise<TaskUpsertSummary> {
    const records = taskRecords(outreach);
    if (records.length === 0) return Promise.resolve({ created: 0, updated: 0 }); // no student, no Task
    return new Promise((resolve, reject) => {
      this.#waiting.push({ outreach, records, resolve, reject });
      this.#records += records.length;
      if (this.#waiting.length >= this.#maxOutreach || this.#records >= MAX_RECORDS_PER_REQUEST) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#maxWaitMs);
    });
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#waiting;
    this.#waiting = [];
    this.#records = 0;
    // #send settles every outreach of the batch; should it throw all the same, none may hang.
    this.#sending = this.#sending.then(() => this.#send(batch)).catch((error: unknown) => batch.forEach((w) => w.reject(error)));
  }

  async #send(batch: readonly Waiting[]): Promise<void> {
    // One record per key: the same outreach twice in a batch (a redelivery after a reconnect)
    // would otherwise fail both copies as duplicate external ids.
    const byKey = new Map<string, TaskRecord>();
    for (const w of batch) for (const r of w.records) byKey.set(r[TASK_KEY_FIELD], r);
    const keys = [...byKey.keys()];
    const answers = new Map<string, UpsertAnswer>();
    const failed = new Map<string, unknown>(); // key -> the error of its whole request
    for (let i = 0; i < keys.length; i += MAX_RECORDS_PER_REQUEST) {
      const chunk = keys.slice(i, i + MAX_RECORDS_PER_REQUEST);
      try {
        // PATCH /services/data/vXX.X/composite/sobjects/Task/Civitas_Outreach_Key__c
        const results = (await this.#conn.sobject('Task').upsert(
          chunk.map((k) => byKey.get(k)!),
          TASK_KEY_FIELD,
          { allOrNone: false },
        )) as unknown as UpsertAnswer[];
        chunk.forEach((k, j) => answers.set(k, results[j] ?? { success: false, errors: [{ statusCode: 'NO_RESULT', message: 'no result for this record', fields: [] }] }));
      } catch (error) {
        for (const k of keys.slice(i)) failed.set(k, error); // later chunks would meet the same answer
        break;
      }
    }
    for (const w of batch) settle(w, answers, failed);
  }
}

function settle(w: Waiting, answers: ReadonlyMap<string, UpsertAnswer>, failed: ReadonlyMap<string, unknown>): void {
  let created = 0;
  let updated = 0;
  const refused: { key: string; errors: RecordError[] }[] = [];
  for (const record of w.records) {
    const key = record[TASK_KEY_FIELD];
    if (failed.has(key)) return w.reject(failed.get(key));
    const answer = answers.get(key)!;
    if (!answer.success) refused.push({ key, errors: answer.errors.map(asRecordError) });
    else if (answer.created === true) created++;
    else updated++;
  }
  if (refused.length > 0) w.reject(new TaskRecordError(w.outreach.outreachId, refused));
  else w.resolve({ created, updated });
}

function asRecordError(error: unknown): RecordError {
  const e = (error ?? {}) as { statusCode?: unknown; errorCode?: unknown; message?: unknown; fields?: unknown };
  return {
    statusCode: String(e.statusCode ?? e.errorCode ?? 'UNKNOWN'),
    message: String(e.message ?? ''),
    fields: Array.isArray(e.fields) ? e.fields.map(String) : [],
  };
}

/** Settings of {@link salesforceConsumerOptions}. */
export interface SalesforceConsumerSettings {
  /** Attempts before `onDeadLetter`. @defaultValue `5` */
  readonly maxAttempts?: number;
  readonly retryDelayMs?: number;
  /** Keep your own copy of a message Salesforce keeps refusing: the broker's DLQ is Civitas'. */
  readonly onDeadLetter: (delivery: OutreachDelivery<Outreach>, error: unknown) => void | Promise<void>;
  /** The first probe after a rate limit; doubles per failed probe. @defaultValue `30000` */
  readonly probeDelayMs?: number;
  /** @defaultValue `900000` (15 minutes: the daily API limit is counted over a rolling 24 hours) */
  readonly maxProbeDelayMs?: number;
}

/**
 * The consumer options the recipe needs besides the connection: at-least-once (each delivery
 * accepted after its own Tasks were stored, retried then dead-lettered when they were refused),
 * and outage handling that takes Salesforce's whole-request refusals for an outage, so the
 * consumer hands everything back uncounted and probes until Salesforce takes work again.
 * Start it with `consumer.start((d) => sink.upsert(d.outreach), { concurrency })`, concurrency
 * equal to the sink's `maxOutreach` and at most `prefetch`.
 */
export function salesforceConsumerOptions(settings: SalesforceConsumerSettings): Pick<OutreachConsumerOptions<Outreach>, 'strategy' | 'outage'> {
  return {
    strategy: atLeastOnce({
      maxAttempts: settings.maxAttempts ?? 5,
      ...(settings.retryDelayMs === undefined ? {} : { retryDelayMs: settings.retryDelayMs }),
      onDeadLetter: settings.onDeadLetter,
    }),
    outage: {
      isOutage: isSalesforceOutage,
      probeDelayMs: settings.probeDelayMs ?? 30_000,
      maxProbeDelayMs: settings.maxProbeDelayMs ?? 900_000,
    },
  };
}
