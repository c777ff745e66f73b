// The public types a user leans on, checked at compile time (tsc runs over the tests).
import { readFileSync } from 'node:fs';
import * as t from 'io-ts';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  atLeastOnce,
  batched,
  OutreachConsumer,
  type AckStrategy,
  type ErrorSource,
  type Outreach,
  type OutreachConsumerEvents,
  type OutreachConsumerOptions,
  type OutreachDelivery,
  type OutreachError,
  type OutreachHandler,
  DEFAULT_MAX_BODY_BYTES,
  DEFAULT_OUTAGE_THRESHOLD,
  DEFAULT_PREFETCH,
} from '../../src/index.js';

const base = { url: 'amqp+ssl://broker.example:5671', username: 'u', password: 'p', queue: 'q' };

describe('consumer types', () => {
  it('hands out deliveries of the codec type', () => {
    const consumer = new OutreachConsumer(base);
    expectTypeOf(consumer).toMatchTypeOf<AsyncIterable<OutreachDelivery<Outreach>>>();
    const Custom = t.type({ id: t.string });
    const custom = new OutreachConsumer({ ...base, codec: Custom });
    expectTypeOf(custom).toMatchTypeOf<AsyncIterable<OutreachDelivery<{ id: string }>>>();
    expectTypeOf<Parameters<typeof custom.start>[0]>().parameter(0).toEqualTypeOf<OutreachDelivery<{ id: string }>>();
    expect(custom.state).toBe('idle');
  });

  it('types every event', () => {
    expectTypeOf<OutreachConsumerEvents['error']>().toEqualTypeOf<[error: OutreachError, source: ErrorSource]>();
    expectTypeOf<ErrorSource>().toEqualTypeOf<'connection' | 'decode' | 'handler' | 'settle'>();
    const consumer = new OutreachConsumer(base);
    consumer.on('reconnecting', (info) => {
      expectTypeOf(info.delayMs).toBeNumber();
    });
    // @ts-expect-error: not an event of the consumer
    consumer.on('message', () => undefined);
  });

  it('lets a user write a strategy', () => {
    const mine: AckStrategy = { name: 'mine', onSuccess: (d) => void d.accept(), onFailure: (d) => void d.retry() };
    expectTypeOf(atLeastOnce()).toEqualTypeOf<AckStrategy>();
    expectTypeOf(batched({ size: 1, commit: async () => undefined })).toEqualTypeOf<AckStrategy<Outreach>>();
    // A batch commit sees the consumer's type, without a cast.
    batched({ size: 1, commit: async (batch) => void expectTypeOf(batch[0]!.outreach).toEqualTypeOf<Outreach>() });
    // A strategy of unknown serves a consumer of any type; it does not change the consumer's type.
    const typed = new OutreachConsumer({ ...base, strategy: atLeastOnce() });
    expectTypeOf(typed).toMatchTypeOf<AsyncIterable<OutreachDelivery<Outreach>>>();
    expect(new OutreachConsumer({ ...base, strategy: mine }).state).toBe('idle');
  });

  it('checks options when constructed', () => {
    expect(() => new OutreachConsumer({ ...base, prefetch: 0 })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }) as Error);
    expect(() => new OutreachConsumer({ ...base, queue: '' })).toThrow(/queue must be a non-empty string/);
    for (const queue of ['a,b', 'civitas.>', 'civitas.*']) {
      expect(() => new OutreachConsumer({ ...base, queue })).toThrow(/one queue name/);
    }
    expect(new OutreachConsumer({ ...base, queue: 'queue://civitas.outreach' }).state).toBe('idle');
    expect(() => new OutreachConsumer({ ...base, strategy: batched({ size: DEFAULT_PREFETCH + 1, commit: async () => undefined }) })).toThrow(/must not exceed prefetch/);
  });

  it('lets a user write the options and handler types bare, as of the default codec', () => {
    // Without a default type argument, these lines fail to compile (TS2314).
    const options: OutreachConsumerOptions = { ...base, prefetch: 5 };
    expectTypeOf<OutreachConsumerOptions>().toEqualTypeOf<OutreachConsumerOptions<Outreach>>();
    const handler: OutreachHandler = (delivery) => {
      expectTypeOf(delivery.outreach).toEqualTypeOf<Outreach>();
    };
    const consumer = new OutreachConsumer(options);
    expectTypeOf(consumer.start).parameter(0).toEqualTypeOf<OutreachHandler>();
    expect(typeof handler).toBe('function');
    expect(consumer.state).toBe('idle');
  });

  it('shows the value of each default that is a constant, in the doc comment', () => {
    // The API reference prints @defaultValue as written: a constant's name alone tells a reader nothing.
    const source = (file: string): string => readFileSync(new URL(`../../src/${file}`, import.meta.url), 'utf8');
    const options = source('consumer/options.ts');
    expect(options).toContain(`@defaultValue \`${DEFAULT_PREFETCH}\` ({@link DEFAULT_PREFETCH})`);
    expect(options).toContain(`@defaultValue \`${DEFAULT_MAX_BODY_BYTES}\` (16 MiB, {@link DEFAULT_MAX_BODY_BYTES})`);
    expect(source('message/decode.ts')).toContain(`@defaultValue \`${DEFAULT_MAX_BODY_BYTES}\` (16 MiB`);
    expect(source('consumer/outage.ts')).toContain(`@defaultValue \`${DEFAULT_OUTAGE_THRESHOLD}\` ({@link DEFAULT_OUTAGE_THRESHOLD})`);
    for (const file of ['consumer/options.ts', 'consumer/outage.ts', 'message/decode.ts', 'testing/invalid.ts', 'testing/run-handler.ts']) {
      expect(source(file), file).not.toMatch(/@defaultValue\s+(?:\{@link\s+)?`?DEFAULT_[A-Z_]+/);
    }
    expect(DEFAULT_MAX_BODY_BYTES).toBe(16 * 1024 * 1024);
  });
});
