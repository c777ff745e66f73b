import type * as t from 'io-ts';
import { CivitasTimestampCodec, type CivitasTimestamp } from './timestamp.js';
import { FAIL, Field, IdCodec, TextCodec, ValueCodec, failedAt, listOf, optional, struct, type Fail } from './fields.js';

/** Where the fast path of {@link OutreachCodec} says it failed when the envelope fits but has no id. */
const NO_ID = -2;

/**
 * The Civitas application that sent an outreach. Open: values outside the examples still decode.
 * @remarks `Faculty` is Inspire for Faculty, `Advisor` is Inspire for Advisors.
 */
export type OutreachSource = 'Illume Students' | 'Faculty' | 'Advisor' | (string & {});

/** The kind of outreach. Open: values outside the examples still decode. */
export type OutreachMedium = 'Email' | 'Campaign' | 'Text' | 'Appointment' | (string & {});

/**
 * Outreach property names the spec documents. Open: any other name still decodes.
 * @see {@link PropertyIndex.read} for typed readers of these names.
 */
export type KnownPropertyName =
  | 'isAttrition'
  | 'isSuccess'
  | 'durationInMs'
  | 'rawEnrollmentId'
  | 'campaignName'
  | 'outreachMediumResult'
  | 'outreachReason'
  | 'outreachRecommendation'
  | 'outreachTopic'
  | 'outreachInitiator'
  | 'emailMessage'
  | 'emailSubject'
  | 'emailSenderAddress'
  | 'emailSenderFirstName'
  | 'emailSenderLastName';

/** One student who received an outreach. Fields the service adds later are kept on the object. */
export interface Student {
  /** The institution's id for the student. Sent as a string or a number; always a string here. */
  readonly institutionPersonID: string;
  /** First name. */
  readonly firstName?: string | undefined;
  /** Last name. */
  readonly lastName?: string | undefined;
  /** Email address, as sent (not validated as an address). */
  readonly emailAddress?: string | undefined;
  /** When the recipient record was created. */
  readonly createdAt?: CivitasTimestamp | undefined;
}

/**
 * One name/value detail of an outreach (result, reason, email subject, flags…).
 * @remarks `name` and `value` are labels that Civitas may rename; `valueId`, when present, never
 * changes. Find properties by `valueId` with {@link PropertyIndex}.
 */
export interface OutreachProperty {
  /** The property's own id. Sent as a number in the spec's examples; always a string here. */
  readonly outreachPropertyId: string;
  /** The outreach this property belongs to. */
  readonly outreachId: string;
  /** The property's name, e.g. `outreachMediumResult`. */
  readonly name: KnownPropertyName | (string & {});
  /** The value, always text: `"0"`/`"1"` flags, `"35776743"` numbers, labels. */
  readonly value: string;
  /** The stable id of a labelled value; absent on free values such as flags and numbers. */
  readonly valueId?: string | undefined;
  /** When the property was created. */
  readonly createdAt: CivitasTimestamp;
}

/**
 * One outreach, decoded: who sent what, to which students, with which properties.
 *
 * @remarks
 * The spec never shows a whole message, so this envelope is our reading of its words; every
 * choice is listed in [docs/message-model.md](../../docs/message-model.md). If Civitas' real messages differ, pass your own
 * io-ts codec to {@link decodeOutreach}.
 */
export interface Outreach {
  /** The outreach's id. Taken from the top level, else from its first property. */
  readonly outreachId: string;
  /** When the outreach was created. */
  readonly createdAt: CivitasTimestamp;
  /** First name of the employee who executed the outreach; absent for automated outreach. */
  readonly employeeFirstName?: string | undefined;
  /** Last name of the employee who executed the outreach. */
  readonly employeeLastName?: string | undefined;
  /** Email address of the employee who executed the outreach. */
  readonly employeeEmail?: string | undefined;
  /** The Civitas application that sent it. */
  readonly outreachSource: OutreachSource;
  /** The kind of outreach. */
  readonly outreachMedium: OutreachMedium;
  /** The recipients; empty when the message has none. */
  readonly students: readonly Student[];
  /** The details; empty when the message has none. */
  readonly outreachProperties: readonly OutreachProperty[];
}

const StudentFields = struct('Student', {
    institutionPersonID: IdCodec,
    firstName: optional(TextCodec),
    lastName: optional(TextCodec),
    emailAddress: optional(TextCodec),
    createdAt: optional(CivitasTimestampCodec),
});
// The fields type optional members as required `T | undefined`; the interface states them optional.
/**
 * io-ts codec of one {@link Student}.
 * @example
 * ```ts
 * import { isRight } from 'fp-ts/lib/Either.js';
 * isRight(StudentCodec.decode({ institutionPersonID: 123567 })); // true, id becomes '123567'
 * ```
 */
export const StudentCodec: t.Type<Student, unknown, unknown> = StudentFields as Field<Student>;

const PropertyFields = struct('OutreachProperty', {
    outreachPropertyId: IdCodec,
    outreachId: IdCodec,
    name: TextCodec,
    value: ValueCodec,
    valueId: optional(IdCodec),
    createdAt: CivitasTimestampCodec,
});
/**
 * io-ts codec of one {@link OutreachProperty}.
 * @example
 * ```ts
 * OutreachPropertyCodec.decode({ outreachPropertyId: 18, outreachId: 'a', name: 'isAttrition',
 *   value: '0', createdAt: '2018-06-11T19:35:15.366848' });
 * ```
 */
export const OutreachPropertyCodec: t.Type<OutreachProperty, unknown, unknown> = PropertyFields as Field<OutreachProperty>;

const EnvelopeCodec = struct('Outreach', {
    outreachId: optional(IdCodec),
    createdAt: CivitasTimestampCodec,
    employeeFirstName: optional(TextCodec),
    employeeLastName: optional(TextCodec),
    employeeEmail: optional(TextCodec),
    outreachSource: TextCodec,
    outreachMedium: TextCodec,
    students: listOf(StudentFields as Field<Student>),
    outreachProperties: listOf(PropertyFields as Field<OutreachProperty>),
});

/**
 * io-ts codec of one {@link Outreach}: the default codec of {@link decodeOutreach}.
 *
 * @remarks
 * Fields it does not know are kept on the decoded object, never a failure, except the own keys
 * `__proto__`, `constructor` and `prototype`, which are dropped at every level it checks (outreach,
 * students, properties). It reports at most {@link MAX_DECODE_ISSUES} issues (plus one, to tell
 * there were more), even inside a codec of your own. Compose it in your own codec if your messages
 * carry more (see the example).
 *
 * @example
 * ```ts
 * import * as t from 'io-ts';
 * const MyCodec = t.intersection([OutreachCodec, t.type({ termCode: t.string })]);
 * const result = decodeOutreach(body, { codec: MyCodec });
 * ```
 */
export const OutreachCodec: t.Type<Outreach, unknown, unknown> = new Field<Outreach>(
  'Outreach',
  (u) => {
    const envelope = EnvelopeCodec.fast(u);
    if (envelope === FAIL) return FAIL;
    const outreach = withOutreachId(envelope);
    return outreach === FAIL ? failedAt(NO_ID) : outreach;
  },
  (u, sink) => {
    // After a failed fast path that found the envelope fine, only the id is missing.
    const fits = !sink.values && sink.peek() === NO_ID;
    if (fits) sink.resume();
    const envelope = fits ? (u as t.TypeOf<typeof EnvelopeCodec>) : EnvelopeCodec.walk(u, sink);
    if (envelope === FAIL) return FAIL;
    // Without values (after a failed fast path) the envelope is the input, not normalised.
    const outreach = sink.values ? withOutreachId(envelope) : hasOutreachId(envelope) ? (envelope as Outreach) : FAIL;
    if (outreach === FAIL) {
      sink.enter('outreachId', IdCodec, undefined);
      sink.fail(undefined, 'required: an id at the top level or on the first outreach property');
      sink.leave();
    }
    return outreach;
  },
  'struct',
);

/** The top-level id if present, else the first property's; `FAIL` if neither. */
function withOutreachId(envelope: t.TypeOf<typeof EnvelopeCodec>): Outreach | Fail {
  if (envelope.outreachId !== undefined) return envelope as Outreach;
  const fromProperty = envelope.outreachProperties[0]?.outreachId;
  return fromProperty === undefined ? FAIL : { ...envelope, outreachId: fromProperty };
}

/** Whether an envelope that fits, not normalised, has an id at the top level or on its first property. */
function hasOutreachId(envelope: { outreachId?: unknown; outreachProperties?: unknown }): boolean {
  if (envelope.outreachId !== undefined && envelope.outreachId !== null) return true;
  const properties = envelope.outreachProperties;
  // The envelope fits, so a non-empty list's first property has a valid outreachId.
  return Array.isArray(properties) && properties.length > 0;
}
