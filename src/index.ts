/**
 * `civitas-outreach`: an unofficial TypeScript client for the Civitas Learning Bulk Outreach
 * Extract Service. This file is the whole public API.
 *
 * @packageDocumentation
 */

// Errors
export { OutreachError, isOutreachError } from './errors/outreach-error.js';
export type { OutreachErrorCode, OutreachErrorOptions } from './errors/outreach-error.js';

// The outreach model: codecs, types, decoding
export { OutreachCodec, StudentCodec, OutreachPropertyCodec } from './message/outreach.js';
export type { Outreach, Student, OutreachProperty, OutreachSource, OutreachMedium, KnownPropertyName } from './message/outreach.js';
export { decodeOutreach, DEFAULT_MAX_BODY_BYTES } from './message/decode.js';
export type { DecodeOptions } from './message/decode.js';
export { OutreachDecodeError } from './message/decode-error.js';
export type { DecodeErrorKind, DecodeIssue, DecodeErrorSummary } from './message/decode-error.js';
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

// Test data: the spec's examples and a factory
export { exampleOutreachMessages } from './testing/examples.js';
export type { OutreachWireMessage, WireStudent, WireOutreachProperty, ExampleOutreachMessages } from './testing/examples.js';
export { makeOutreachMessage, makeOutreachMessages } from './testing/factory.js';
export type { MakeOutreachOptions } from './testing/factory.js';
