// The SDK's providers, and the API's, fit TelemetryOptions as they are: our structural types must
// not make users cast (and must not import @opentelemetry/api into our declarations).
import { metrics, trace, type MeterProvider as ApiMeterProvider, type TracerProvider as ApiTracerProvider } from '@opentelemetry/api';
import type { MeterProvider } from '@opentelemetry/sdk-metrics';
import type { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { describe, expectTypeOf, it } from 'vitest';
import type { OutreachConsumerOptions, Outreach, TelemetryOptions } from '../../src/index.js';

describe('TelemetryOptions', () => {
  it('takes the SDK and API providers without a cast, or false', () => {
    expectTypeOf<BasicTracerProvider>().toExtend<NonNullable<TelemetryOptions['tracerProvider']>>();
    expectTypeOf<MeterProvider>().toExtend<NonNullable<TelemetryOptions['meterProvider']>>();
    expectTypeOf<ApiTracerProvider>().toExtend<NonNullable<TelemetryOptions['tracerProvider']>>();
    expectTypeOf<ApiMeterProvider>().toExtend<NonNullable<TelemetryOptions['meterProvider']>>();
    expectTypeOf({ tracerProvider: trace.getTracerProvider(), meterProvider: metrics.getMeterProvider() }).toExtend<TelemetryOptions>();
    expectTypeOf<false>().toExtend<NonNullable<OutreachConsumerOptions<Outreach>['telemetry']>>();
    expectTypeOf<{ tracerProvider: { getSpan(): void } }>().not.toExtend<TelemetryOptions>();
  });
});
