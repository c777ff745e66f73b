import { createRequire } from 'node:module';
import type { OutreachLogger } from '../logger.js';
import { errorType } from './error-type.js';
import type { Instrumentation, TelemetryHooks } from './instrumentation.js';
import type { TelemetrySettings } from './options.js';
import { OtelInstrumentation, type ObservedConsumer, type OtelModule } from './otel-instrumentation.js';

/** @internal The optional peer dependency. */
export const OTEL_API = '@opentelemetry/api';

/**
 * @internal Loads the optional peer dependency, resolved from this package's own location (as a
 * package manager that isolates dependencies, pnpm, requires). `undefined` when it is not
 * installed. Throws for anything else (a broken installation).
 *
 * @remarks Why `createRequire` and not `await import()`: the same synchronous call works in the
 * ESM and the CommonJS build (tsup's shim gives the CommonJS build an `import.meta.url`), it
 * loads the same copy of the API as the application's own `import` or `require` (the API ships
 * one CommonJS entry for Node), so the providers the application registered are seen; and it
 * also works where a dynamic `import()` in CommonJS does not (Jest without its ESM mode).
 */
export function requireOtelApi(from: string = import.meta.url): OtelModule | undefined {
  try {
    return createRequire(from)(OTEL_API) as OtelModule;
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw error;
  }
}

/**
 * @internal The instrumentation, or `undefined` when telemetry is off: turned off
 * (`telemetry: false`), `@opentelemetry/api` not installed, or broken (logged at `warn`). Never
 * throws.
 */
export function loadInstrumentation(
  settings: TelemetrySettings,
  consumer: ObservedConsumer,
  logger: OutreachLogger,
  load: () => OtelModule | undefined = requireOtelApi,
): Instrumentation | undefined {
  if (settings === undefined) {
    logger.debug({ telemetry: 'off' }, 'telemetry off (telemetry: false)');
    return undefined;
  }
  try {
    const api = load();
    if (api === undefined) {
      logger.debug({ telemetry: 'off' }, 'telemetry off: @opentelemetry/api is not installed');
      return undefined;
    }
    const instrumentation = new OtelInstrumentation(api, settings, consumer);
    logger.debug({ telemetry: 'on' }, 'telemetry on');
    return instrumentation;
  } catch (error) {
    logger.warn({ telemetry: 'off', error: errorType(error) }, 'telemetry off: @opentelemetry/api could not be loaded or set up');
    return undefined;
  }
}

/** @internal Switches `hooks` on if telemetry can be had. Never throws. */
export function enableTelemetry(hooks: TelemetryHooks, settings: TelemetrySettings, consumer: ObservedConsumer): void {
  const instrumentation = loadInstrumentation(settings, consumer, consumer.logger);
  if (instrumentation !== undefined) hooks.enable(instrumentation);
}
