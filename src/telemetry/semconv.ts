// The names this library's telemetry uses, in one place. Where the OpenTelemetry messaging
// semantic conventions define a name, it is theirs (attribute registry `messaging.*`, `error.*`,
// `server.*`; metrics `messaging.client.consumed.messages` and `messaging.process.duration`);
// names the conventions do not define live under `civitas_outreach.*`, because custom names must
// not take an OpenTelemetry namespace. Defined here rather than imported from
// `@opentelemetry/semantic-conventions`: the messaging names are still "development" there, and
// the package would be one more optional dependency for a dozen strings.

/** @internal The instrumentation scope: tracer and meter name. */
export const SCOPE_NAME = 'civitas-outreach';
/** @internal The instrumentation scope version: this package's version (a unit test compares them). */
export const SCOPE_VERSION = '0.1.0';

/** @internal `messaging.system` value for ActiveMQ (a well-known value of the conventions). */
export const MESSAGING_SYSTEM_ACTIVEMQ = 'activemq';
/** @internal `messaging.operation.type` / `messaging.operation.name` of a delivery handed to user code. */
export const OPERATION_PROCESS = 'process';

/** @internal */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
/** @internal */
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
/** @internal */
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
/** @internal */
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
/** @internal */
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
/** @internal */
export const ATTR_SERVER_ADDRESS = 'server.address';
/** @internal */
export const ATTR_SERVER_PORT = 'server.port';
/** @internal */
export const ATTR_ERROR_TYPE = 'error.type';
/** @internal Attribute of the `exception` span event. */
export const ATTR_EXCEPTION_TYPE = 'exception.type';
/** @internal The span event of a failure (the conventions' name), with `exception.type` only. */
export const EVENT_EXCEPTION = 'exception';
/** @internal `error.type` when the error has no usable class name (the conventions' fallback). */
export const ERROR_TYPE_OTHER = '_OTHER';

/**
 * @internal AMQP `delivery-count`. The conventions define no general attribute for it (only
 * per-system ones such as `messaging.servicebus.message.delivery_count`), and none for ActiveMQ.
 */
export const ATTR_DELIVERY_COUNT = 'civitas_outreach.message.delivery_count';
/** @internal What became of the delivery: a `SettleOutcome`, or `unfinished` (still in user code at close()). */
export const ATTR_OUTCOME = 'civitas_outreach.outcome';
/** @internal `DecodeErrorKind` of an undecodable message. */
export const ATTR_DECODE_ERROR_KIND = 'civitas_outreach.decode_error.kind';

/** @internal Counter, `{message}`: every message the broker delivered to this consumer. */
export const METRIC_CONSUMED = 'messaging.client.consumed.messages';
/** @internal Histogram, `s`: time in user code (handler, loop body or `onInvalid`). */
export const METRIC_PROCESS_DURATION = 'messaging.process.duration';
/** @internal Counter, `{message}`: settlements by outcome. */
export const METRIC_SETTLED = 'civitas_outreach.messages.settled';
/** @internal Counter, `{message}`: undecodable messages by decode error kind. */
export const METRIC_INVALID = 'civitas_outreach.messages.invalid';
/** @internal Observable up-down counter, `{delivery}`: deliveries held now (`health().held`). */
export const METRIC_HELD = 'civitas_outreach.deliveries.held';
/** @internal Observable gauge, `1`: 1 during a sink outage, else 0. */
export const METRIC_OUTAGE = 'civitas_outreach.outage.active';

/** @internal Bucket boundaries (seconds) the conventions advise for messaging durations. */
export const DURATION_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
