// How to unit-test your own handler with no broker to install: runHandler() puts messages on an
// in-process dev queue and runs the real consumer over them (in-memory streams: no network, no
// socket), then tells you how each message was settled. Run: npx vitest run examples/handler.test.ts
import { describe, expect, it } from 'vitest';
import { atLeastOnce, type OutreachDelivery } from 'civitas-outreach';
import { exampleOutreachMessages, makeInvalidOutreach, makeOutreachMessages, runHandler } from 'civitas-outreach/testing';

/** Your sink: here a small in-memory CRM that refuses a student without an email address. */
class Crm {
  readonly contacts = new Map<string, string>();
  async upsert(delivery: OutreachDelivery): Promise<void> {
    for (const student of delivery.outreach.students) {
      if (student.emailAddress === undefined) throw new Error(`student ${String(student.institutionPersonID)} has no email address`);
      this.contacts.set(String(student.institutionPersonID), student.emailAddress);
    }
  }
}

describe('my outreach handler', () => {
  it('stores every student of the spec examples, each message accepted once', async () => {
    const crm = new Crm();
    const examples = Object.values(exampleOutreachMessages());
    const result = await runHandler((d) => crm.upsert(d), examples);
    expect(result.messages.map((m) => m.outcome)).toEqual(['accepted', 'accepted', 'accepted']);
    expect(crm.contacts.get('123567')).toBe('scarlett.jones@institution.edu');
  });

  it('retries a message the CRM refuses, then dead-letters it; the others go through', async () => {
    const crm = new Crm();
    const [ok, refused] = [...makeOutreachMessages(2, { seed: 4, students: 1 })];
    delete refused!.students[0]!.emailAddress;
    // runHandler's strategy retries without waiting and its outage handling is off (pass
    // `outage: {}` to test it): a failing message is retried, then dead-lettered, in milliseconds.
    const result = await runHandler((d) => crm.upsert(d), [ok!, refused!], {
      strategy: atLeastOnce({ maxAttempts: 3, retryDelayMs: 0 }),
    });
    expect(result.incomplete).toBeUndefined();
    expect(result.messages[0]).toMatchObject({ outcome: 'accepted', handlerCalls: 1 });
    expect(result.messages[1]).toMatchObject({ outcome: 'dead-lettered', handlerCalls: 3, deliveryCounts: [0, 1, 2] });
    // Each error names the message and carries what the handler threw.
    expect(result.errors[0]).toMatchObject({ code: 'HANDLER_FAILED', index: 1 });
    expect(result.errors[0]!.message).toMatch(/has no email address$/);
  });

  it('never sees a message that does not decode', async () => {
    const crm = new Crm();
    const result = await runHandler((d) => crm.upsert(d), [makeInvalidOutreach('wrong-type')]);
    expect(result.messages[0]).toMatchObject({ invalid: true, handlerCalls: 0, outcome: 'dead-lettered' });
    expect(crm.contacts.size).toBe(0);
  });
});
