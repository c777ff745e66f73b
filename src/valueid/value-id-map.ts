import { OutreachError } from '../errors/outreach-error.js';

/**
 * Your own names for the valueIds your integration cares about, e.g.
 * `{ campaignSent: 'c9a33a36-…' }`. Made by {@link defineValueIds}.
 */
export type ValueIdMap<K extends string> = { readonly [P in K]: string };

/**
 * Declares your stable map of valueIds, checked once at start-up.
 *
 * @remarks Labels can be renamed in Civitas; valueIds never change. Key your integration on this
 * map and ask {@link PropertyIndex.matches} which of your keys an outreach carries.
 *
 * @throws {@link OutreachError} with code `INVALID_ARGUMENT` if a valueId is empty or two keys
 * share one valueId.
 *
 * @example
 * ```ts
 * const ids = defineValueIds({
 *   campaignSent: 'c9a33a36-4cb0-2c42-352c-75e2911e2f27',
 *   textSent: 'c95267ff-2718-f2d3-1cd1-38f2f2bad8da',
 * });
 * indexProperties(outreach).matches(ids); // ['campaignSent']
 * ```
 */
export function defineValueIds<const K extends string>(map: { readonly [P in K]: string }): ValueIdMap<K> {
  const seen = new Map<string, string>();
  for (const [key, valueId] of Object.entries<string>(map)) {
    if (typeof valueId !== 'string' || valueId.length === 0) {
      throw new OutreachError('INVALID_ARGUMENT', `defineValueIds: ${key} must be a non-empty valueId string`);
    }
    const other = seen.get(valueId);
    if (other !== undefined) {
      throw new OutreachError('INVALID_ARGUMENT', `defineValueIds: ${key} and ${other} have the same valueId`);
    }
    seen.set(valueId, key);
  }
  return Object.freeze({ ...map });
}
