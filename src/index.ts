/**
 * `civitas-outreach`: an unofficial TypeScript client for the Civitas Learning Bulk Outreach
 * Extract Service. This file is the whole public API of the main entry; what tests need (sample
 * messages, a factory, a development queue, a handler harness) is in `civitas-outreach/testing`.
 *
 * Guides: [Getting started](../docs/getting-started.md),
 * [Connecting to Amazon MQ](../docs/amazon-mq.md),
 * [Delivery guarantees](../docs/delivery-guarantees.md),
 * [The message model and valueIds](../docs/message-model.md),
 * [Running in production](../docs/operations.md),
 * [Troubleshooting](../docs/troubleshooting.md).
 *
 * @packageDocumentation
 * @module civitas-outreach
 */

// Errors
export { OutreachError, isOutreachError } from './errors/outreach-error.js';
export type { OutreachErrorCode, OutreachErrorOptions } from './errors/outreach-error.js';

// The consumer
export { OutreachConsumer } from './consumer/outreach-consumer.js';
export type { OutreachHandler } from './consumer/dispatcher.js';
export { DEFAULT_PREFETCH, DEFAULT_MAX_HELD_BYTES } from './consumer/settings.js';
export type {
  OutreachConsumerOptions,
  StartOptions,
  CloseOptions,
  CloseReport,
  SettleCounts,
  ConsumerHealth,
  ConsumerState,
  InvalidMessage,
  InvalidMessagePolicy,
  OutageHealth,
} from './consumer/options.js';
export { DEFAULT_OUTAGE_THRESHOLD } from './consumer/outage.js';
export type { OutageOptions, OutageInfo, RecoveryInfo } from './consumer/outage.js';
export { OutreachDelivery } from './delivery/delivery.js';
export type { DeliveryMetadata, SettleOutcome } from './delivery/delivery.js';
export type { OutreachConsumerEvents, ErrorSource } from './consumer/events.js';
export type { ConnectionInfo, DisconnectInfo, ReconnectInfo } from './connection/events.js';
export type { OutreachLogger } from './logger.js';
export type { TelemetryOptions } from './telemetry/options.js';
export type { JournalOptions, JournalHealth, JournalFullInfo } from './journal/options.js';
export { replay } from './journal/replay-run.js';
export type { ReplayOptions, ReplayReport, ReplayFailure, ReplayInvalid } from './journal/replay-run.js';
export { listDeadLetters } from './journal/dead-letters.js';
export type { DeadLetter, DeadLetterInfo } from './journal/dead-letters.js';
export { redriveDeadLetters } from './journal/redrive.js';
export type { RedriveOptions, RedriveReport } from './journal/redrive.js';
export type { ReconnectOptions } from './connection/backoff.js';
export { DuplicateFilter } from './consumer/duplicate-filter.js';
export type { DuplicateFilterOptions } from './consumer/duplicate-filter.js';

// Acknowledgement strategies
export { atLeastOnce, atMostOnce, manual, batched } from './ack/strategies.js';
export type { AtLeastOnceOptions, BatchedOptions } from './ack/strategies.js';
export type { AckStrategy, AckContext } from './ack/strategy.js';
export { defaultRetryDelayMs } from './ack/retry-policy.js';
export type { RetryOptions } from './ack/retry-policy.js';

// The outreach model: codecs, types, decoding
export { OutreachCodec, StudentCodec, OutreachPropertyCodec } from './message/outreach.js';
export type { Outreach, Student, OutreachProperty, OutreachSource, OutreachMedium, KnownPropertyName } from './message/outreach.js';
export { decodeOutreach, DEFAULT_MAX_BODY_BYTES } from './message/decode.js';
export type { DecodeOptions } from './message/decode.js';
export { OutreachDecodeError, MAX_DECODE_ISSUES } from './message/decode-error.js';
export type { DecodeErrorKind, DecodeIssue, DecodeErrorSummary, OutreachDecodeErrorOptions } from './message/decode-error.js';
export { parseCivitasTimestamp, civitasTimestampToDate } from './message/timestamp.js';
export type { CivitasTimestamp, CivitasInstant } from './message/timestamp.js';

// valueIds: stable lookups and label drift
export { PropertyIndex, indexProperties } from './valueid/property-index.js';
export { KNOWN_PROPERTIES } from './valueid/known-properties.js';
export type { KnownPropertyValue } from './valueid/known-properties.js';
export { defineValueIds } from './valueid/value-id-map.js';
export type { ValueIdMap } from './valueid/value-id-map.js';
export { LabelDriftDetector } from './valueid/label-drift.js';
export type { LabelDrift, LabelDriftDetectorOptions, ValueIdLabel } from './valueid/label-drift.js';
