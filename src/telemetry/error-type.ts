import { isOutreachError } from '../errors/outreach-error.js';
import { ERROR_TYPE_OTHER } from './semconv.js';

/** A class name as code spells it; anything else is not recorded. */
const IDENTIFIER = /^[A-Za-z_$][\w$]{0,99}$/;

/**
 * @internal The `error.type` of a failure: an {@link OutreachError}'s `code`, else the class name
 * of the thrown object (`TypeError`, `DatabaseError`), else `_OTHER`. Never throws.
 *
 * @remarks Never the error's message, nor a thrown string: handler errors are the user's, and
 * their text can hold student data (a database's "duplicate key (email)=(…)", a CRM's answer).
 * The class name comes from the constructor, not the `name` property, which any code can set.
 */
export function errorType(error: unknown): string {
  if (typeof error !== 'object' || error === null) return ERROR_TYPE_OTHER;
  try {
    if (isOutreachError(error)) return error.code;
    const name = (Object.getPrototypeOf(error) as { constructor?: { name?: unknown } } | null)?.constructor?.name;
    return typeof name === 'string' && IDENTIFIER.test(name) && name !== 'Object' ? name : ERROR_TYPE_OTHER;
  } catch {
    return ERROR_TYPE_OTHER; // a proxy that throws
  }
}
