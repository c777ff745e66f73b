// The telemetry seam without a broker: error types, options, loading the optional API (present,
// absent, broken), the producer-context getter, and the hooks when telemetry is off. Spans and
// metrics on real deliveries: test/integration/telemetry.test.ts.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { OutreachConsumer, OutreachError } from '../../src/index.js';
import type { OutreachDelivery } from '../../src/delivery/delivery.js';
import { errorType } from '../../src/telemetry/error-type.js';
import { TelemetryHooks, type Instrumentation } from '../../src/telemetry/instrumentation.js';
import { loadInstrumentation, requireOtelApi } from '../../src/telemetry/load.js';
import { resolveTelemetry } from '../../src/telemetry/options.js';
import type { ObservedConsumer } from '../../src/telemetry/otel-instrumentation.js';
import { applicationPropertiesGetter } from '../../src/telemetry/producer-context.js';
import { SCOPE_VERSION } from '../../src/telemetry/semconv.js';

function recordingLogger() {
  const lines: { level: string; fields: object; message: string | undefined }[] = [];
  const at = (level: string) => (fields: object, message?: string) => void lines.push({ level, fields, message });
  return { lines, logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') } };
}

const observed = (logger: ObservedConsumer['logger']): ObservedConsumer => ({ queue: 'q', held: () => 0, outage: () => false, endpoint: () => undefined, logger });

describe('errorType', () => {
  class RecordRefused extends Error {}
  it('is the OutreachError code, else the class name, never the message', () => {
    expect(errorType(new OutreachError('QUEUE_UNAVAILABLE', 'jane.doe@example.edu'))).toBe('QUEUE_UNAVAILABLE');
    expect(errorType(new TypeError('Jane Doe'))).toBe('TypeError');
    expect(errorType(new RecordRefused('jane.doe@example.edu'))).toBe('RecordRefused');
    // `name` is settable by anyone; the constructor is code.
    expect(errorType(Object.assign(new Error('x'), { name: 'jane.doe@example.edu' }))).toBe('Error');
  });

  it('is _OTHER for thrown strings, plain objects, null and hostile objects', () => {
    expect(errorType('Jane Doe failed')).toBe('_OTHER');
    expect(errorType({ message: 'Jane Doe' })).toBe('_OTHER');
    expect(errorType(Object.create(null))).toBe('_OTHER');
    expect(errorType(null)).toBe('_OTHER');
    expect(errorType(undefined)).toBe('_OTHER');
    const hostile = new Proxy({}, { getPrototypeOf: () => { throw new Error('no'); } });
    expect(errorType(hostile)).toBe('_OTHER');
    const named = { constructor: undefined };
    Object.setPrototypeOf(named, { constructor: { name: 'jane doe <jane@example.edu>' } });
    expect(errorType(named)).toBe('_OTHER');
  });
});

describe('telemetry option', () => {
  it('false is off, absent is on with the global providers, providers are checked', () => {
    expect(resolveTelemetry(false)).toBeUndefined();
    expect(resolveTelemetry(undefined)).toEqual({});
    const tracerProvider = { getTracer: () => ({}) };
    expect(resolveTelemetry({ tracerProvider })).toEqual({ tracerProvider });
    expect(() => resolveTelemetry({ tracerProvider: {} as never })).toThrow(/telemetry.tracerProvider/);
    expect(() => resolveTelemetry({ meterProvider: { getMeter: 1 } as never })).toThrow(/telemetry.meterProvider/);
    expect(() => resolveTelemetry('on' as never)).toThrow(/telemetry must be/);
  });

  it('is checked by the consumer constructor', () => {
    const options = { url: 'amqps://127.0.0.1:5671', username: 'u', password: 'p', queue: 'q' };
    expect(() => new OutreachConsumer({ ...options, telemetry: { meterProvider: {} as never } })).toThrow(OutreachError);
    expect(() => new OutreachConsumer({ ...options, telemetry: false })).not.toThrow();
  });

  it('names the instrumentation scope with this package version', () => {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(SCOPE_VERSION).toBe(pkg.version);
  });
});

describe('loading @opentelemetry/api', () => {
  const empty = mkdtempSync(join(tmpdir(), 'civitas-no-otel-'));
  afterAll(() => rmSync(empty, { recursive: true, force: true }));

  it('finds it from this package, and not from a place where it is not installed', () => {
    expect(typeof requireOtelApi()?.trace.getTracer).toBe('function');
    expect(requireOtelApi(pathToFileURL(join(empty, 'index.js')).href)).toBeUndefined();
  });

  it('absent: off, said at debug level, nothing thrown', () => {
    const { lines, logger } = recordingLogger();
    expect(loadInstrumentation({}, observed(logger), logger, () => undefined)).toBeUndefined();
    expect(lines).toEqual([{ level: 'debug', fields: { telemetry: 'off' }, message: 'telemetry off: @opentelemetry/api is not installed' }]);
  });

  it('broken: off, a warning with the error type only', () => {
    const { lines, logger } = recordingLogger();
    const broken = (): never => {
      throw new SyntaxError('Unexpected token in /home/jane.doe/app/node_modules/@opentelemetry/api');
    };
    expect(loadInstrumentation({}, observed(logger), logger, broken)).toBeUndefined();
    expect(lines).toEqual([{ level: 'warn', fields: { telemetry: 'off', error: 'SyntaxError' }, message: 'telemetry off: @opentelemetry/api could not be loaded or set up' }]);
  });

  it('turned off: the module is not even looked for', () => {
    const { logger } = recordingLogger();
    let looked = false;
    expect(loadInstrumentation(undefined, observed(logger), logger, () => ((looked = true), undefined))).toBeUndefined();
    expect(looked).toBe(false);
  });

  it('present: on', () => {
    const { lines, logger } = recordingLogger();
    const instrumentation = loadInstrumentation({}, observed(logger), logger);
    expect(instrumentation).toBeDefined();
    expect(lines.map((l) => l.message)).toEqual(['telemetry on']);
    instrumentation!.closed();
  });
});

describe('producer context getter', () => {
  it('reads own string properties only', () => {
    const props = Object.freeze({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', count: 3 });
    expect(applicationPropertiesGetter.get(props, 'traceparent')).toBe(props.traceparent);
    expect(applicationPropertiesGetter.get(props, 'count')).toBeUndefined();
    expect(applicationPropertiesGetter.get(props, 'toString')).toBeUndefined();
    expect(applicationPropertiesGetter.keys(props)).toEqual(['traceparent', 'count']);
  });
});

describe('TelemetryHooks', () => {
  const delivery = {} as OutreachDelivery<unknown>;

  it('off: runs user code directly and forwards nothing', () => {
    const hooks = new TelemetryHooks();
    expect(hooks.enabled).toBe(false);
    expect(hooks.call(delivery, (x: number) => x + 1, 1)).toBe(2);
    expect(hooks.took(delivery)).toBe(delivery);
    expect(hooks.took(undefined)).toBeUndefined();
    hooks.received();
    hooks.sweep();
    hooks.closed();
  });

  it('on: forwards every hook', () => {
    const calls: string[] = [];
    const impl: Instrumentation = {
      received: () => void calls.push('received'),
      invalid: () => void calls.push('invalid'),
      started: () => void calls.push('started'),
      call: (_d, fn, arg) => (calls.push('call'), fn(arg)),
      ended: () => void calls.push('ended'),
      settled: () => void calls.push('settled'),
      sweep: () => void calls.push('sweep'),
      closed: () => void calls.push('closed'),
    };
    const hooks = new TelemetryHooks();
    hooks.enable(impl);
    hooks.received();
    hooks.took(delivery);
    expect(hooks.call(delivery, (x: string) => x, 'ok')).toBe('ok');
    hooks.ended(delivery, undefined);
    hooks.settled(delivery, 'accepted');
    hooks.sweep();
    hooks.closed();
    expect(calls).toEqual(['received', 'started', 'call', 'ended', 'settled', 'sweep', 'closed']);
  });
});
