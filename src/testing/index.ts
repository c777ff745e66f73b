/**
 * `civitas-outreach/testing`: what a user's tests need and production code does not. Sample
 * messages as the spec shows them, a factory of varied valid messages, builders of the invalid
 * shapes a consumer must handle, a development queue that behaves like the Civitas queue (an AMQP
 * 1.0 endpoint in your process, with fault injection), and a harness that runs a handler over
 * given messages and reports how each was settled.
 *
 * @packageDocumentation
 * @module civitas-outreach/testing
 */

// Sample messages and a factory
export { exampleOutreachMessages } from './examples.js';
export type { OutreachWireMessage, WireStudent, WireOutreachProperty, ExampleOutreachMessages } from './examples.js';
export { makeOutreachMessage, makeOutreachMessages } from './factory.js';
export type { MakeOutreachOptions } from './factory.js';

// The development queue
export { startDevQueue } from './dev-queue/dev-queue.js';
export type {
  DevQueue,
  DevQueueOptions,
  DevQueueFaults,
  DevQueueInput,
  DevQueueMessage,
  DevQueueSeed,
  DevQueueStats,
  DevQueueDelivery,
  DevQueueBrowsed,
  DevQueueTls,
} from './dev-queue/types.js';
export type { DevQueueDeadLetter, DevQueueRejection, DevQueueSettlement } from './dev-queue/queue-state.js';

// Invalid shapes a consumer must handle
export { makeInvalidOutreach, invalidOutreachCases } from './invalid.js';
export type { InvalidOutreachKind, InvalidOutreachCase, MakeInvalidOutreachOptions } from './invalid.js';

// A handler under test, with no broker to install
export { runHandler } from './run-handler.js';
export type { RunHandlerOptions, RunHandlerResult, RunHandlerError, HandledMessage } from './run-handler.js';
