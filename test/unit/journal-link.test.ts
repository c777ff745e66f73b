// The journal as the engine's link (the transport port): lines handed out in order as credit
// allows, each outcome the journal's own (accepted settles the cursor, released and retried come
// again first, rejected goes to the dead letters), a drain answered when nothing is left, and a
// line appended later handed out at once.
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Arrival } from '../../src/connection/transport.js';
import { Settler } from '../../src/consumer/settler.js';
import { OutreachDelivery } from '../../src/delivery/delivery.js';
import { JournalLink, type LineLog } from '../../src/journal/journal-link.js';
import { JournalStore } from '../../src/journal/journal-store.js';
import { DEAD_LETTERS_FILE, DeadLetterStore, listDeadLetters } from '../../src/journal/dead-letters.js';
import { archiveLine, readLine } from '../../src/journal/line.js';
import { until } from './dev-consumer.js';

let dir: string;
let store: JournalStore;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'journal-link-'));
  store = await JournalStore.open(dir);
});
afterEach(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const line = (id: number): string => archiveLine({ messageId: `ID:${id}`, deliveryCount: 0, receivedAt: new Date(0) }, `{"n":${id},"big":12345678901234567890}`);

function link(log: LineLog = store) {
  const arrivals: Arrival[] = [];
  const drains: boolean[] = [];
  const deadLetters: { number: number; reason: string }[] = [];
  const errors: unknown[] = [];
  const journal = new JournalLink(
    log,
    { add: (_text, number, reason) => (deadLetters.push({ number, reason }), Promise.resolve()) },
    { arrived: (a) => void arrivals.push(a), drained: (dry) => void drains.push(dry), down: () => undefined },
    (e) => void errors.push(e),
  );
  const settler = new Settler(journal, { decide: (r) => r.requested, settled: () => undefined });
  const delivery = (a: Arrival): OutreachDelivery<undefined> => new OutreachDelivery(undefined, a, settler);
  return { journal, arrivals, drains, deadLetters, errors, delivery };
}

describe('journal link', () => {
  it('hands out lines in order as credit allows, the body as written (every digit kept)', async () => {
    for (let i = 1; i <= 5; i++) await store.append(line(i));
    const { journal, arrivals } = link();
    journal.addCredit(3);
    await until(() => arrivals.length === 3, 'three arrivals');
    await nextTurn();
    expect(arrivals.map((a) => a.messageId)).toEqual(['ID:1', 'ID:2', 'ID:3']);
    expect(arrivals[0]!.body).toBe('{"n":1,"big":12345678901234567890}');
    expect(journal.outstandingCredit).toBe(0);
    journal.addCredit(5);
    await until(() => arrivals.length === 5, 'the rest');
    expect(journal.outstandingCredit).toBe(3); // credit kept for lines to come
    await store.append(line(6));
    await until(() => arrivals.length === 6, 'a line appended later, handed out at once');
  });

  it('accepted settles the line in the journal; released comes again first, count unchanged; retried with its count raised; rejected goes to the dead letters and is settled', async () => {
    for (let i = 1; i <= 5; i++) await store.append(line(i));
    const { journal, arrivals, deadLetters, delivery } = link();
    journal.addCredit(4);
    await until(() => arrivals.length === 4, 'four arrivals');
    const [a, b, c, d] = arrivals.map(delivery);
    a!.accept();
    b!.release();
    c!.retry();
    d!.reject('poison');
    await until(() => deadLetters.length === 1 && store.isSettled(4), 'the dead letter kept and settled');
    await nextTurn();
    expect(store.isSettled(1)).toBe(true);
    expect(store.cursor).toBe(2);
    expect(deadLetters).toEqual([{ number: 4, reason: 'poison' }]);
    journal.addCredit(3);
    await until(() => arrivals.length === 7, 'released and retried again, then line 5');
    expect(arrivals.slice(4).map((x) => [x.messageId, x.deliveryCount])).toEqual([
      ['ID:2', 0],
      ['ID:3', 1],
      ['ID:5', 0],
    ]);
  });

  it('dead letters are kept in the order they failed, even when reading one line back is slow', async () => {
    for (let i = 1; i <= 3; i++) await store.append(line(i));
    // The first line reads back slowly, as a cold disk may: the others must not overtake it.
    const slowFirst: LineLog = {
      get dir() { return store.dir; },
      get cursor() { return store.cursor; },
      get durable() { return store.durable; },
      read: async (n) => {
        if (n === 1) await sleep(30);
        return store.read(n);
      },
      isSettled: (n) => store.isSettled(n),
      settle: (lines) => store.settle(lines),
      onDurable: (listener) => store.onDurable(listener),
    };
    const { journal, arrivals, deadLetters, delivery } = link(slowFirst);
    journal.addCredit(3);
    await until(() => arrivals.length === 3, 'three arrivals');
    for (const d of arrivals.map(delivery)) d.reject('poison');
    await until(() => deadLetters.length === 3, 'three dead letters');
    expect(deadLetters.map((d) => d.number)).toEqual([1, 2, 3]);
  });

  it('a drain is answered dry once nothing more is there, and not dry when lines use the credit up', async () => {
    await store.append(line(1));
    const { journal, arrivals, drains } = link();
    journal.addCredit(5);
    await until(() => arrivals.length === 1, 'the one line');
    journal.drain();
    await until(() => drains.length === 1, 'the answer');
    expect(drains).toEqual([true]);
    expect(journal.outstandingCredit).toBe(0);
    await store.append(line(2));
    await store.append(line(3));
    journal.addCredit(1);
    journal.drain();
    await until(() => drains.length === 2, 'the second answer');
    expect(drains[1]).toBe(false);
    expect(arrivals).toHaveLength(2);
  });

  it('a line settled keeps its place of the credit until the cursor saying so is on disk: after a crash, what comes again stays within the credit', async () => {
    for (let i = 1; i <= 4; i++) await store.append(line(i));
    const cursorOnDisk = (): number => {
      try {
        return (JSON.parse(readFileSync(join(dir, 'cursor.json'), 'utf8')) as { cursor: number }).cursor;
      } catch {
        return 1; // no cursor written yet
      }
    };
    const seen: { id: unknown; cursorOnDisk: number }[] = [];
    const journal = new JournalLink(
      store,
      { add: () => Promise.resolve() },
      { arrived: (a) => void seen.push({ id: a.messageId, cursorOnDisk: cursorOnDisk() }), drained: () => undefined, down: () => undefined },
      () => undefined,
    );
    journal.addCredit(2);
    await until(() => seen.length === 2, 'two arrivals');
    journal.settle([1, 2].map((n) => ({ token: { line: n } as never, outcome: 'accepted' as const })));
    journal.addCredit(2); // the engine gives the credit back as it settles
    await until(() => seen.length === 4, 'two more');
    // Lines 3 and 4 were handed out only once lines 1 and 2 were settled on disk: a crash at any
    // point brings back at most two lines (the credit), never four.
    expect(seen).toEqual([
      { id: 'ID:1', cursorOnDisk: 1 },
      { id: 'ID:2', cursorOnDisk: 1 },
      { id: 'ID:3', cursorOnDisk: 3 },
      { id: 'ID:4', cursorOnDisk: 3 },
    ]);
  });

  it('a new link over a reopened journal starts at the first line not settled and skips those settled above it', async () => {
    for (let i = 1; i <= 4; i++) await store.append(line(i));
    await store.settle([1, 3]);
    const { journal, arrivals } = link();
    journal.addCredit(10);
    await until(() => arrivals.length === 2, 'lines 2 and 4');
    expect(arrivals.map((a) => a.messageId)).toEqual(['ID:2', 'ID:4']);
  });
});

describe('dead-letter store', () => {
  it('keeps each line with why and when, lists them in order, and gives the body back as written', async () => {
    const deadLetters = await DeadLetterStore.open(dir);
    await deadLetters.add(line(7), 7, 'attempts used up');
    await deadLetters.add(line(9), 9, 'undecodable message: truncated-json');
    await deadLetters.close();
    const listed = [];
    for await (const d of listDeadLetters(dir)) listed.push(d);
    expect(listed.map((d) => [d.messageId, d.deadLetter.journalLine, d.deadLetter.reason])).toEqual([
      ['ID:7', 7, 'attempts used up'],
      ['ID:9', 9, 'undecodable message: truncated-json'],
    ]);
    expect(readLine(listed[0]!.text).body).toBe('{"n":7,"big":12345678901234567890}');
    expect(((await stat(join(dir, DEAD_LETTERS_FILE))).mode & 0o777).toString(8)).toBe('600');
  });

  it('a journal with none lists none', async () => {
    const listed = [];
    for await (const d of listDeadLetters(dir)) listed.push(d);
    expect(listed).toEqual([]);
  });
});
