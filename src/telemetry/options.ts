import { OutreachError } from '../errors/outreach-error.js';

/**
 * Where the consumer's spans and metrics go (the `telemetry` option of {@link OutreachConsumer}).
 *
 * @remarks
 * Telemetry needs the optional peer dependency `@opentelemetry/api` (1.x). When it is installed,
 * the consumer uses it by default with the global providers your OpenTelemetry set-up registered
 * (e.g. `NodeSDK.start()`); with none registered, the API's no-op providers record nothing. Give
 * providers here to use others than the global ones. When the API is not installed, telemetry is
 * off and nothing fails. Spans, attributes and metric labels never hold message bodies, student
 * data, error messages or credentials. See [docs/telemetry.md](../../docs/telemetry.md).
 *
 * The provider types are the part of OpenTelemetry's `TracerProvider` and `MeterProvider` that
 * the consumer calls, so that this package's types do not depend on `@opentelemetry/api`: pass
 * the SDK's providers as they are.
 *
 * @example
 * ```ts
 * import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
 * const consumer = new OutreachConsumer({ ...connection, telemetry: { tracerProvider: new BasicTracerProvider() } });
 * ```
 */
export interface TelemetryOptions {
  /**
   * Where spans go: an OpenTelemetry `TracerProvider`.
   * @defaultValue the global tracer provider of `@opentelemetry/api`
   */
  readonly tracerProvider?: {
    /** OpenTelemetry's `TracerProvider.getTracer`; called once, when the consumer first starts. */
    getTracer(name: string, version?: string): unknown;
  };
  /**
   * Where metrics go: an OpenTelemetry `MeterProvider`.
   * @defaultValue the global meter provider of `@opentelemetry/api`
   */
  readonly meterProvider?: {
    /** OpenTelemetry's `MeterProvider.getMeter`; called once, when the consumer first starts. */
    getMeter(name: string, version?: string): unknown;
  };
}

/** @internal The `telemetry` option checked: `undefined` when turned off. */
export type TelemetrySettings = TelemetryOptions | undefined;

/**
 * @internal Checks the `telemetry` option.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` for a provider without its method
 */
export function resolveTelemetry(telemetry: TelemetryOptions | false | undefined): TelemetrySettings {
  if (telemetry === false) return undefined;
  if (telemetry === undefined) return {};
  if (telemetry === null || typeof telemetry !== 'object') {
    throw new OutreachError('INVALID_ARGUMENT', 'telemetry must be an object or false');
  }
  if (telemetry.tracerProvider !== undefined && typeof telemetry.tracerProvider?.getTracer !== 'function') {
    throw new OutreachError('INVALID_ARGUMENT', 'telemetry.tracerProvider must be an OpenTelemetry TracerProvider (with getTracer)');
  }
  if (telemetry.meterProvider !== undefined && typeof telemetry.meterProvider?.getMeter !== 'function') {
    throw new OutreachError('INVALID_ARGUMENT', 'telemetry.meterProvider must be an OpenTelemetry MeterProvider (with getMeter)');
  }
  return telemetry;
}
