// The settler on its own, over a link that records what it is asked to write (the transport port,
// src/connection/transport.ts, implemented in memory): the order of dispositions, acceptances
// batched to the end of the turn, records made while deciding queued behind, a lost link.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { Arrival, ArrivalToken, InboundLink, LinkState, WireOutcome, WireSettlement } from '../../src/connection/transport.js';
import { Settler, type SettledDelivery, type SettlerHost } from '../../src/consumer/settler.js';
import { OutreachDelivery, type SettleRecord } from '../../src/delivery/delivery.js';

/** An inbound link that keeps every batch it was asked to write. */
class RecordingLink implements InboundLink {
  readonly endpoint = { host: 'memory', port: 0, tls: false, label: 'memory' };
  readonly containerId = 'memory';
  state: LinkState = 'open';
  readonly outstandingCredit = 0;
  readonly draining = false;
  readonly silentSince = undefined;
  readonly written: { id: number; outcome: WireOutcome }[][] = [];
  addCredit(): void {}
  drain(): void {}
  settle(batch: readonly WireSettlement[]): void {
    this.written.push(batch.map((s) => ({ id: (s.token as unknown as { id: number }).id, outcome: s.outcome })));
  }
  close(): Promise<void> {
    this.state = 'down';
    return Promise.resolve();
  }
}

function arrival(id: number): Arrival {
  return { token: { id } as unknown as ArrivalToken, body: '{}', messageId: id, deliveryCount: 0, applicationProperties: {}, subject: undefined };
}

function setUp(decide: (record: SettleRecord) => WireOutcome = (r) => r.requested) {
  const link = new RecordingLink();
  const handedOver: SettledDelivery[][] = [];
  const host: SettlerHost = { decide: (record) => decide(record), settled: (batch) => void handedOver.push([...batch]) };
  const settler = new Settler(link, host);
  const deliveries = [1, 2, 3, 4, 5].map((id) => new OutreachDelivery(undefined, arrival(id), settler));
  return { link, settler, deliveries, handedOver };
}

const ids = (batches: { id: number; outcome: WireOutcome }[][]): string[][] => batches.map((b) => b.map((s) => `${s.id}:${s.outcome}`));

describe('settler', () => {
  it('writes dispositions in the order decided: acceptances decided before a release leave ahead of it, in one batch', () => {
    const { link, deliveries: [a, b, c] } = setUp();
    a!.accept();
    c!.accept();
    expect(link.written).toEqual([]); // acceptances wait for the end of the turn
    b!.release();
    expect(ids(link.written)).toEqual([['1:accepted', '3:accepted', '2:released']]);
    expect([a!.outcome, b!.outcome, c!.outcome]).toEqual(['accepted', 'released', 'accepted']);
  });

  it('acceptances alone leave together at the end of the turn, and are handed over once', async () => {
    const { link, deliveries, handedOver } = setUp();
    for (const d of deliveries) d.accept();
    expect(deliveries[0]!.outcome).toBeUndefined();
    await nextTurn();
    expect(ids(link.written)).toEqual([deliveries.map((_, i) => `${i + 1}:accepted`)]);
    expect(handedOver).toHaveLength(1);
    expect(handedOver[0]!.every((s) => s.sent)).toBe(true);
  });

  it('a record made while one is being decided (an outage hand-back) is decided after it, not inside it', () => {
    const order: string[] = [];
    let others: OutreachDelivery<undefined>[] = [];
    const { link, deliveries } = setUp((record) => {
      order.push(`decide ${String(record.delivery.messageId)}`);
      if (record.delivery.messageId === 1 && record.requested === 'retried') {
        for (const d of others) d.release(); // what outage control's hand-back does
        order.push('hand-back asked');
        return 'released';
      }
      return record.requested;
    });
    others = deliveries.slice(1, 3);
    deliveries[0]!.retry(new Error('sink down'));
    expect(order).toEqual(['decide 1', 'hand-back asked', 'decide 2', 'decide 3']);
    expect(ids(link.written).flat()).toEqual(['1:released', '2:released', '3:released']);
  });

  it('batch(): many records written as one batch', () => {
    const { link, settler, deliveries } = setUp();
    settler.batch(() => {
      for (const d of deliveries) d.release();
    });
    expect(ids(link.written)).toEqual([deliveries.map((_, i) => `${i + 1}:released`)]);
  });

  it('an outcome decided but not written when the link goes is never written: lost, handed over as not sent', async () => {
    const { link, deliveries, handedOver } = setUp();
    expect(deliveries[0]!.accept()).toBe(true);
    link.state = 'down';
    await nextTurn();
    expect(link.written).toEqual([]);
    expect(deliveries[0]!.outcome).toBe('lost');
    expect(handedOver.flat().map((s) => [s.outcome, s.sent])).toEqual([['accepted', false]]);
    expect(deliveries[1]!.release()).toBe(false); // on a dead link: false at once, and handed over as not sent
    expect(handedOver.flat()).toHaveLength(2);
  });

  it('flush() writes what waits now (before a close)', () => {
    const { link, settler, deliveries } = setUp();
    deliveries[0]!.accept();
    expect(settler.pending).toBe(1);
    settler.flush();
    expect(settler.pending).toBe(0);
    expect(ids(link.written)).toEqual([['1:accepted']]);
  });
});
