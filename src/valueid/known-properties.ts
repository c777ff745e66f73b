import type { KnownPropertyName } from '../message/outreach.js';

/**
 * How each documented property name is read by {@link PropertyIndex.read}:
 * `flag` as a boolean, `number` as a number, `text` as the string itself.
 */
export const KNOWN_PROPERTIES = {
  /** Whether the outreach concerns attrition: a flag. */
  isAttrition: 'flag',
  /** Whether the outreach succeeded: a flag. */
  isSuccess: 'flag',
  /** How long it took, in milliseconds. */
  durationInMs: 'number',
  /** The enrollment id, as a number. */
  rawEnrollmentId: 'number',
  /** The campaign's name. */
  campaignName: 'text',
  /** The result, e.g. `Campaign sent`. */
  outreachMediumResult: 'text',
  /** The reason, e.g. `Student Hold`. */
  outreachReason: 'text',
  /** The recommendation or referral made. */
  outreachRecommendation: 'text',
  /** The topic discussed. */
  outreachTopic: 'text',
  /** Who initiated it, e.g. `Advisor Initiated`. */
  outreachInitiator: 'text',
  /** The email's content. */
  emailMessage: 'text',
  /** The email's subject line. */
  emailSubject: 'text',
  /** The sender's email address. */
  emailSenderAddress: 'text',
  /** The sender's first name. */
  emailSenderFirstName: 'text',
  /** The sender's last name. */
  emailSenderLastName: 'text',
} as const satisfies Record<KnownPropertyName, 'flag' | 'number' | 'text'>;

/** The type {@link PropertyIndex.read} returns for a documented property name. */
export type KnownPropertyValue<N extends KnownPropertyName> = (typeof KNOWN_PROPERTIES)[N] extends 'flag'
  ? boolean
  : (typeof KNOWN_PROPERTIES)[N] extends 'number'
    ? number
    : string;

const TRUE = new Set(['1', 'true', 'True', 'TRUE']);
const FALSE = new Set(['0', 'false', 'False', 'FALSE']);
const DECIMAL = /^-?\d+(?:\.\d+)?$/;

/** @internal Reads a value by its kind; `undefined` when the text does not fit. */
export function readKnown(kind: 'flag' | 'number' | 'text', value: string): boolean | number | string | undefined {
  switch (kind) {
    case 'flag':
      return TRUE.has(value) ? true : FALSE.has(value) ? false : undefined;
    case 'number': {
      if (!DECIMAL.test(value)) return undefined;
      const n = Number(value);
      return Number.isFinite(n) && (value.includes('.') || Number.isSafeInteger(n)) ? n : undefined;
    }
    case 'text':
      return value;
  }
}

/** @internal What a kind expects, for error messages. */
export const KIND_EXPECTS = {
  flag: 'a flag ("0", "1", "true" or "false")',
  number: 'a decimal number (integers within 2^53)',
  text: 'text',
} as const;
