import type { OutreachWireMessage, WireOutreachProperty } from './examples.js';

/** Options of {@link makeOutreachMessage}. */
export interface MakeOutreachOptions {
  /**
   * Seed of the generator: the same seed gives the same message.
   * @defaultValue `1`
   */
  readonly seed?: number;
  /**
   * How many student recipients.
   * @defaultValue 1 to 5, chosen by the seed
   */
  readonly students?: number;
}

/** A small, fast, seeded generator (mulberry32); not for cryptography. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const hex = (rng: Rng, n: number): string =>
  Array.from({ length: n }, () => Math.floor(rng() * 16).toString(16)).join('');
const uuid = (rng: Rng): string => `${hex(rng, 8)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 4)}-${hex(rng, 12)}`;

/**
 * Labelled values with their valueIds. Those of the spec's examples are the spec's; the others
 * are made up for tests and are marked by their `f00d` prefix.
 */
const LABELS = {
  outreachMediumResult: [
    ['Campaign sent', 'c9a33a36-4cb0-2c42-352c-75e2911e2f27'],
    ['Text message sent', 'c95267ff-2718-f2d3-1cd1-38f2f2bad8da'],
    ['Email sent', '5bb6226a-5db7-69b7-2054-0b7a725e045a'],
    ['Appointment scheduled', 'f00d0001-0000-4000-8000-000000000001'],
    ['Left voicemail', 'f00d0001-0000-4000-8000-000000000002'],
    ['Wrong number', 'f00d0001-0000-4000-8000-000000000003'],
  ],
  outreachInitiator: [
    ['Advisor Initiated', 'edc3b021-02f8-4e52-9980-e1f5fd6b89bc'],
    ['Student Initiated', 'cd77b7bf-e5a2-4368-94e1-e7c01f687b09'],
    ['Faculty Initiated', '07e0f3dd-1673-8244-2364-b95f97bbf13e'],
  ],
  outreachReason: [
    ['GPA', 'f00d0002-0000-4000-8000-000000000001'],
    ['Persistence Probability Shift', 'f00d0002-0000-4000-8000-000000000002'],
    ['Student Hold', 'f00d0002-0000-4000-8000-000000000003'],
  ],
  outreachTopic: [
    ['Academic', 'f00d0003-0000-4000-8000-000000000001'],
    ['Personal', 'f00d0003-0000-4000-8000-000000000002'],
    ['Financial', 'f00d0003-0000-4000-8000-000000000003'],
  ],
  outreachRecommendation: [
    ['Referred to Financial Aid', 'f00d0004-0000-4000-8000-000000000001'],
    ['Referred to Tutoring', 'f00d0004-0000-4000-8000-000000000002'],
    ['Other', 'f00d0004-0000-4000-8000-000000000003'],
  ],
} as const;

const SOURCES = [
  ['Illume Students', 'Campaign'],
  ['Advisor', 'Text'],
  ['Advisor', 'Appointment'],
  ['Faculty', 'Email'],
  ['Advisor', 'Email'],
] as const;

const FIRST = ['Scarlett', 'Avery', 'Mateo', 'Priya', 'Jordan', 'Wen', 'Amara', 'Lucas', 'Zoë', 'Ngozi'] as const;
const LAST = ['Jones', 'García', 'Nguyen', 'Okafor', 'Smith', 'Kowalski', 'Haddad', 'Ito', 'Brown', 'Ó Briain'] as const;

function timestamp(rng: Rng): string {
  const ms = Date.UTC(2018, 0, 1) + Math.floor(rng() * 8 * 365 * 86_400_000);
  const iso = new Date(ms).toISOString().slice(0, 19);
  return `${iso}.${String(Math.floor(rng() * 1_000_000)).padStart(6, '0')}`;
}

/**
 * Makes one valid, varied outreach message in the wire form, for tests, examples, benchmarks and
 * a development queue. Deterministic: the same options give the same message.
 *
 * @remarks Varies what the spec leaves open: source and medium, number of students, student ids
 * sent as numbers or strings, messages with and without an employee, labelled properties with
 * valueIds and flags or numbers without. Names are drawn from a fixed list of sample names.
 *
 * @example
 * ```ts
 * const body = JSON.stringify(makeOutreachMessage({ seed: 42, students: 3 }));
 * ```
 */
export function makeOutreachMessage(options: MakeOutreachOptions = {}): OutreachWireMessage {
  const rng = random(options.seed ?? 1);
  const outreachId = uuid(rng);
  const createdAt = timestamp(rng);
  const [outreachSource, outreachMedium] = pick(rng, SOURCES);
  const studentCount = options.students ?? 1 + Math.floor(rng() * 5);
  const students = Array.from({ length: studentCount }, () => {
    const firstName = pick(rng, FIRST);
    const lastName = pick(rng, LAST);
    const id = 100_000 + Math.floor(rng() * 900_000);
    return {
      institutionPersonID: rng() < 0.5 ? id : String(id),
      firstName,
      lastName,
      emailAddress: `${firstName}.${lastName}@institution.edu`.toLowerCase().replace(/[^a-z.@]/g, ''),
      createdAt,
    };
  });

  let nextPropertyId = 1 + Math.floor(rng() * 1000);
  const properties: WireOutreachProperty[] = [];
  const add = (name: string, value: string, valueId?: string): void => {
    const base = { outreachPropertyId: nextPropertyId++, outreachId, name, value };
    properties.push(valueId === undefined ? { ...base, createdAt } : { ...base, valueId, createdAt });
  };
  add('isAttrition', rng() < 0.2 ? '1' : '0');
  add('isSuccess', rng() < 0.8 ? '1' : '0');
  const result =
    outreachMedium === 'Campaign' ? LABELS.outreachMediumResult[0]
    : outreachMedium === 'Text' ? LABELS.outreachMediumResult[1]
    : outreachMedium === 'Email' ? LABELS.outreachMediumResult[2]
    : pick(rng, LABELS.outreachMediumResult.slice(3));
  add('outreachMediumResult', result[0], result[1]);
  const initiator =
    outreachSource === 'Faculty' ? LABELS.outreachInitiator[2] : pick(rng, LABELS.outreachInitiator.slice(0, 2));
  add('outreachInitiator', initiator[0], initiator[1]);
  if (outreachMedium === 'Campaign') {
    add('campaignName', `Sample campaign ${hex(rng, 4)}`, uuid(rng));
    add('durationInMs', '0');
  } else {
    for (const name of ['outreachReason', 'outreachTopic', 'outreachRecommendation'] as const) {
      if (rng() < 0.7) {
        const [value, valueId] = pick<readonly [string, string]>(rng, LABELS[name]);
        add(name, value, valueId);
      }
    }
    if (rng() < 0.5) add('rawEnrollmentId', String(10_000_000 + Math.floor(rng() * 90_000_000)));
  }
  if (outreachMedium === 'Email') {
    add('emailSubject', 'Checking in on your semester');
    add('emailMessage', 'Dear [Student Firstname], I wanted to check in. Thanks, Joe');
    add('emailSenderAddress', 'joe.bob@institution.edu');
    add('emailSenderFirstName', 'Joe');
    add('emailSenderLastName', 'Bob');
  }

  const employee =
    outreachSource === 'Illume Students' && rng() < 0.5
      ? {}
      : { employeeFirstName: 'Joe', employeeLastName: 'Bob', employeeEmail: 'joe.bob@institution.edu' };
  return { outreachId, createdAt, ...employee, outreachSource, outreachMedium, students, outreachProperties: properties };
}

/**
 * Makes `count` varied messages, seeded `seed`, `seed + 1`, …
 * @example
 * ```ts
 * for (const message of makeOutreachMessages(100, { seed: 7 })) await send(JSON.stringify(message));
 * ```
 */
export function* makeOutreachMessages(
  count: number,
  options: MakeOutreachOptions = {},
): Generator<OutreachWireMessage, void, undefined> {
  const seed = options.seed ?? 1;
  for (let i = 0; i < count; i++) yield makeOutreachMessage({ ...options, seed: seed + i });
}
