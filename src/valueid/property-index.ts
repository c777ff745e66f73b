import { left, right, type Either } from 'fp-ts/lib/Either.js';
import { OutreachError } from '../errors/outreach-error.js';
import type { KnownPropertyName, Outreach, OutreachProperty } from '../message/outreach.js';
import { KIND_EXPECTS, KNOWN_PROPERTIES, readKnown, type KnownPropertyValue } from './known-properties.js';
import type { ValueIdMap } from './value-id-map.js';

const EMPTY: readonly OutreachProperty[] = Object.freeze([]);

/**
 * An index over one outreach's properties: find them by stable `valueId`, by name, or read the
 * documented names as typed values.
 *
 * @remarks Built once per outreach in O(properties); every lookup is a map read. Pure: no I/O.
 * When a name or valueId occurs more than once, lookups that return one property return the first
 * in message order.
 *
 * @example
 * ```ts
 * const props = indexProperties(outreach);
 * props.byValueId('c9a33a36-4cb0-2c42-352c-75e2911e2f27')?.value; // 'Campaign sent'
 * props.get('isSuccess');      // true
 * props.get('durationInMs');   // 0
 * props.first('campaignName')?.value;
 * ```
 */
export class PropertyIndex {
  /** The properties, in message order. */
  readonly properties: readonly OutreachProperty[];
  readonly #byValueId = new Map<string, OutreachProperty>();
  readonly #byName = new Map<string, OutreachProperty[]>();

  /** @param properties - an outreach's `outreachProperties` */
  constructor(properties: readonly OutreachProperty[]) {
    this.properties = properties;
    for (const property of properties) {
      if (property.valueId !== undefined && !this.#byValueId.has(property.valueId)) {
        this.#byValueId.set(property.valueId, property);
      }
      const named = this.#byName.get(property.name);
      if (named === undefined) this.#byName.set(property.name, [property]);
      else named.push(property);
    }
  }

  /** The property carrying this valueId, whatever its label today. */
  byValueId(valueId: string): OutreachProperty | undefined {
    return this.#byValueId.get(valueId);
  }

  /** The first property with this name. */
  first(name: KnownPropertyName | (string & {})): OutreachProperty | undefined {
    return this.#byName.get(name)?.[0];
  }

  /** Every property with this name, in message order (empty if none). */
  all(name: KnownPropertyName | (string & {})): readonly OutreachProperty[] {
    return this.#byName.get(name) ?? EMPTY;
  }

  /**
   * Reads a documented property as its type: flags as booleans, `durationInMs` and
   * `rawEnrollmentId` as numbers, the rest as strings.
   *
   * @returns `Right(undefined)` when the outreach has no such property, `Right(value)` when it
   * reads, `Left` of an {@link OutreachError} (code `INVALID_PROPERTY_VALUE`) naming the property
   * when its text does not fit, e.g. a flag of `"yes"`.
   */
  read<N extends KnownPropertyName>(name: N): Either<OutreachError, KnownPropertyValue<N> | undefined> {
    const property = this.first(name);
    if (property === undefined) return right(undefined);
    const kind = KNOWN_PROPERTIES[name];
    const value = readKnown(kind, property.value);
    if (value === undefined) {
      return left(
        new OutreachError(
          'INVALID_PROPERTY_VALUE',
          `outreach property ${name}: expected ${KIND_EXPECTS[kind]}, got text of ${property.value.length} characters`,
        ),
      );
    }
    return right(value as KnownPropertyValue<N>);
  }

  /**
   * Like {@link PropertyIndex.read}, for code that treats absent and malformed alike.
   * @returns the typed value, or `undefined` when the property is absent or does not read.
   */
  get<N extends KnownPropertyName>(name: N): KnownPropertyValue<N> | undefined {
    const result = this.read(name);
    return result._tag === 'Right' ? result.right : undefined;
  }

  /**
   * Which keys of your {@link ValueIdMap} this outreach carries, in the map's key order.
   * @example
   * ```ts
   * if (indexProperties(outreach).matches(ids).includes('campaignSent')) markCampaign(outreach);
   * ```
   */
  matches<K extends string>(map: ValueIdMap<K>): K[] {
    return (Object.keys(map) as K[]).filter((key) => this.#byValueId.has(map[key]));
  }

  /** Whether this outreach carries the valueId your map names `key`. */
  has<K extends string>(map: ValueIdMap<K>, key: K): boolean {
    return this.#byValueId.has(map[key]);
  }
}

/**
 * Builds a {@link PropertyIndex} over an outreach's properties.
 * @example
 * ```ts
 * const result = indexProperties(outreach).read('isAttrition'); // Right(false)
 * ```
 */
export function indexProperties(outreach: Pick<Outreach, 'outreachProperties'>): PropertyIndex {
  return new PropertyIndex(outreach.outreachProperties);
}
