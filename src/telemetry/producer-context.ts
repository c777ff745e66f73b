import type { TextMapGetter } from '@opentelemetry/api';

/**
 * @internal Reads a producer's trace context (W3C `traceparent` / `tracestate`, or whatever the
 * registered propagator reads) from a message's AMQP application properties, which is where a JMS
 * producer's properties arrive. Only string values are read.
 */
export const applicationPropertiesGetter: TextMapGetter<Readonly<Record<string, unknown>>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    if (!Object.hasOwn(carrier, key)) return undefined;
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};
