// A LOCAL STAND-IN FOR SALESFORCE, NOT SALESFORCE. It answers the one REST call the recipe
// (salesforce-sink.ts, through jsforce 3) makes, so the recipe runs and is tested with no org and
// no network. It knows nothing of validation rules, triggers, sharing, field-level security, API
// versions or limits beyond what is written here; passing against it says nothing about your org.
//
// The one call, as jsforce 3.10 makes it for `conn.sobject('Task').upsert(records, field,
// { allOrNone: false })` with an API version of 46.0 or later (read from jsforce's
// `Connection._upsertMany` in node_modules/jsforce/src/connection.ts, and checked by the tests,
// which log every request this server gets):
//
//   PATCH /services/data/vXX.X/composite/sobjects/Task/<ExternalIdField>
//   Authorization: Bearer <access token>
//   { "allOrNone": false, "records": [ { "attributes": { "type": "Task" }, "<ExternalIdField>": "…", … } ] }
//
// Shapes follow Salesforce's REST API Developer Guide:
// - "Upsert Records Using sObject Collections" (resources_composite_sobjects_collections_upsert):
//   up to 200 records, each with `attributes.type`; the answer is 200 with one result per record,
//   in order: `{ id, success, errors: [{ statusCode, message, fields }], created }`;
// - "Status Codes and Error Responses" (errorcodes): an error body is `[{ message, errorCode }]`;
//   401 for an invalid session (`INVALID_SESSION_ID`), 403 with `REQUEST_LIMIT_EXCEEDED` when the
//   org's API request limit is used up, 503 (`SERVER_UNAVAILABLE`) when the server is unavailable,
//   404 for a resource that does not exist.
// Per-record error codes used here (`FIELD_CUSTOM_VALIDATION_EXCEPTION`, `STRING_TOO_LONG`,
// `MISSING_ARGUMENT`, `DUPLICATE_EXTERNAL_ID`) are codes Salesforce documents (StatusCode in the
// SOAP API reference); their messages here are ours.
//
// `GET /services/data/` (the version list) is not served: jsforce does not call it when it is
// given an instanceUrl, an accessToken and a version, and the tests check that no other call came.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One Task as the stand-in keeps it. */
export interface StoredTask {
  readonly Id: string;
  /** The fields of the last upsert (without `attributes`). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** How many upserts touched it: 1 when created, +1 per update. */
  readonly writes: number;
}

/** One request the stand-in received, for tests: method, path, status, records in the body. */
export interface StandInCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly records: number;
}

/** The answer to give instead of doing the work: the org's whole-request errors. */
export type WholeRequestFailure = 'REQUEST_LIMIT_EXCEEDED' | 'SERVER_UNAVAILABLE';

/** A per-record failure: which records, with what, and how many more times (Infinity: always). */
export interface RecordFailure {
  readonly match: (record: Readonly<Record<string, unknown>>) => boolean;
  readonly statusCode?: string;
  readonly message?: string;
  readonly times?: number;
}

/** Options of {@link startSalesforceStandIn}. */
export interface StandInOptions {
  /** The token a request must bear. */
  readonly accessToken: string;
  /** The sObject and external id field served. @defaultValue `Task`, `Civitas_Outreach_Key__c` */
  readonly sobject?: string;
  readonly externalIdField?: string;
}

/** A running stand-in. */
export interface SalesforceStandIn {
  /** `http://127.0.0.1:<port>`: give it to jsforce as `instanceUrl`. */
  readonly instanceUrl: string;
  /** Tasks by external id. */
  readonly tasks: ReadonlyMap<string, StoredTask>;
  /** Every request, in order. */
  readonly calls: readonly StandInCall[];
  /** Answers the next `count` requests with `failure` (403 or 503) and stores nothing. */
  failNextRequests(count: number, failure?: WholeRequestFailure): void;
  /** Fails the records that `match` (each request, `times` times; default always). */
  failRecords(failure: RecordFailure): void;
  /** Forgets record failures still in force. */
  clearRecordFailures(): void;
  close(): Promise<void>;
}

/** The most records one sObject Collections request may carry (documented). */
export const COLLECTION_LIMIT = 200;

const WHOLE_REQUEST: Record<WholeRequestFailure, { status: number; message: string }> = {
  REQUEST_LIMIT_EXCEEDED: { status: 403, message: 'TotalRequests Limit exceeded.' },
  SERVER_UNAVAILABLE: { status: 503, message: 'Server temporarily unavailable (stand-in).' },
};

/** Field lengths the stand-in enforces (Task's standard Subject; a Text(255) external id). */
const MAX_LENGTH: Record<string, number> = { Subject: 255, Description: 32_000 };

export async function startSalesforceStandIn(options: StandInOptions): Promise<SalesforceStandIn> {
  const sobject = options.sobject ?? 'Task';
  const field = options.externalIdField ?? 'Civitas_Outreach_Key__c';
  const upsertPath = new RegExp(`^/services/data/v\\d+\\.\\d/composite/sobjects/${sobject}/${field}$`);
  const tasks = new Map<string, StoredTask>();
  const calls: StandInCall[] = [];
  const recordFailures: { failure: RecordFailure; left: number }[] = [];
  let failNext = 0;
  let failWith: WholeRequestFailure = 'REQUEST_LIMIT_EXCEEDED';
  let nextId = 1;

  const answer = (res: ServerResponse, call: Omit<StandInCall, 'status'>, status: number, body: unknown): void => {
    calls.push({ ...call, status });
    res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8' });
    res.end(JSON.stringify(body));
  };
  const error = (res: ServerResponse, call: Omit<StandInCall, 'status'>, status: number, errorCode: string, message: string): void =>
    answer(res, call, status, [{ message, errorCode }]);

  const upsertOne = (record: Record<string, unknown>, duplicates: Set<string>): unknown => {
    const fail = (statusCode: string, message: string, fields: string[] = []): unknown => ({ success: false, errors: [{ statusCode, message, fields }] });
    const { attributes, ...fields } = record;
    const key = fields[field];
    if (typeof key !== 'string' || key === '') return fail('MISSING_ARGUMENT', `${field} not specified`, [field]);
    if ((attributes as { type?: unknown } | undefined)?.type !== sobject) return fail('INVALID_TYPE', `attributes.type must be ${sobject}`);
    if (duplicates.has(key)) return fail('DUPLICATE_EXTERNAL_ID', `Duplicate external id specified: ${key}`, [field]);
    for (const [name, max] of Object.entries({ ...MAX_LENGTH, [field]: 255 })) {
      const value = fields[name];
      if (typeof value === 'string' && value.length > max) return fail('STRING_TOO_LONG', `${name}: data value too large (max length=${max})`, [name]);
    }
    for (const entry of recordFailures) {
      if (entry.left > 0 && entry.failure.match(record)) {
        entry.left--;
        return fail(entry.failure.statusCode ?? 'FIELD_CUSTOM_VALIDATION_EXCEPTION', entry.failure.message ?? 'Rejected by a validation rule (stand-in).');
      }
    }
    const existing = tasks.get(key);
    const Id = existing?.Id ?? `00T${String(nextId++).padStart(12, '0')}AAA`;
    tasks.set(key, { Id, fields, writes: (existing?.writes ?? 0) + 1 });
    return { id: Id, success: true, errors: [], created: existing === undefined };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const call = { method: req.method ?? '', path, records: 0 };
    let text = '';
    for await (const chunk of req) text += String(chunk);
    if (req.headers.authorization !== `Bearer ${options.accessToken}`) {
      return error(res, call, 401, 'INVALID_SESSION_ID', 'Session expired or invalid');
    }
    if (req.method !== 'PATCH' || !upsertPath.test(path)) {
      return error(res, call, 404, 'NOT_FOUND', 'The requested resource does not exist');
    }
    let body: { allOrNone?: unknown; records?: unknown };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      return error(res, call, 400, 'JSON_PARSER_ERROR', 'The request body is not JSON');
    }
    const records = body.records;
    if (!Array.isArray(records) || typeof body.allOrNone !== 'boolean') {
      return error(res, call, 400, 'INVALID_FIELD', 'Expected { allOrNone: boolean, records: [...] }');
    }
    call.records = records.length;
    if (failNext > 0) {
      failNext--;
      const { status, message } = WHOLE_REQUEST[failWith];
      return error(res, call, status, failWith, message);
    }
    if (records.length > COLLECTION_LIMIT) {
      return error(res, call, 400, 'EXCEEDED_ID_LIMIT', `record limit reached. cannot submit more than ${COLLECTION_LIMIT} records into this call`);
    }
    // allOrNone: false (the recipe's): each record succeeds or fails on its own. The recipe never
    // sends true; the stand-in does not roll back, so it refuses it rather than pretend.
    if (body.allOrNone) return error(res, call, 400, 'INVALID_FIELD', 'allOrNone: true is not supported by the stand-in');
    const keys = records.map((r) => (r as Record<string, unknown>)[field]);
    const duplicates = new Set(keys.filter((k, i) => typeof k === 'string' && keys.indexOf(k) !== i) as string[]);
    answer(res, call, 200, records.map((r) => upsertOne(r as Record<string, unknown>, duplicates)));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify([{ message: String(err), errorCode: 'UNKNOWN_EXCEPTION' }]));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    instanceUrl: `http://127.0.0.1:${port}`,
    tasks,
    calls,
    failNextRequests(count, failure = 'REQUEST_LIMIT_EXCEEDED') {
      failNext = count;
      failWith = failure;
    },
    failRecords(failure) {
      recordFailures.push({ failure, left: failure.times ?? Number.POSITIVE_INFINITY });
    },
    clearRecordFailures() {
      recordFailures.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
