import { isLeft } from 'fp-ts/lib/Either.js';
import { describe, expect, expectTypeOf, it } from 'vitest';
import {
  decodeOutreach,
  defineValueIds,
  indexProperties,
  isOutreachError,
  type Outreach,
} from '../../src/index.js';
import { exampleOutreachMessages } from '../../src/testing/index.js';

function decoded(message: unknown): Outreach {
  const result = decodeOutreach(message);
  if (isLeft(result)) throw result.left;
  return result.right;
}
const examples = exampleOutreachMessages();
const illume = decoded(examples.illumeStudentsCampaign);
const advisor = decoded(examples.inspireForAdvisors);
const faculty = decoded(examples.inspireForFaculty);

describe('PropertyIndex lookups', () => {
  it('finds a property by valueId whatever its label', () => {
    expect(indexProperties(illume).byValueId('c9a33a36-4cb0-2c42-352c-75e2911e2f27')?.value).toBe('Campaign sent');
    expect(indexProperties(illume).byValueId('no-such-id')).toBeUndefined();
  });

  it('finds the first and all properties of a name, in message order', () => {
    const message = exampleOutreachMessages().inspireForAdvisors;
    message.outreachProperties.push({ ...message.outreachProperties[5]!, outreachPropertyId: 99, value: 'GPA' });
    const index = indexProperties(decoded(message));
    expect(index.first('outreachReason')?.value).toBe('Student Hold');
    expect(index.all('outreachReason').map((p) => p.value)).toEqual(['Student Hold', 'GPA']);
    expect(index.all('nothing')).toEqual([]);
  });

  it('reads flags as booleans and numbers as numbers', () => {
    const index = indexProperties(illume);
    expect(index.get('isAttrition')).toBe(false);
    expect(index.get('isSuccess')).toBe(true);
    expect(index.get('durationInMs')).toBe(0);
    expect(index.get('campaignName')).toBe('Trey Sample Illume Campaign');
    expect(indexProperties(faculty).get('rawEnrollmentId')).toBe(35776743);
    expect(indexProperties(advisor).get('outreachTopic')).toBe('Academic');
    expect(indexProperties(advisor).get('emailSubject')).toBeUndefined();
  });

  it('types each reader by the property name', () => {
    const index = indexProperties(illume);
    expectTypeOf(index.get('isSuccess')).toEqualTypeOf<boolean | undefined>();
    expectTypeOf(index.get('rawEnrollmentId')).toEqualTypeOf<number | undefined>();
    expectTypeOf(index.get('emailSubject')).toEqualTypeOf<string | undefined>();
  });

  it('reports a malformed value as a typed error naming the property, not its text', () => {
    const message = exampleOutreachMessages().illumeStudentsCampaign;
    message.outreachProperties[0]!.value = 'maybe';
    message.outreachProperties[3]!.value = '12 ms';
    const index = indexProperties(decoded(message));
    const flag = index.read('isAttrition');
    expect(isLeft(flag) && flag.left.message).toBe(
      'outreach property isAttrition: expected a flag ("0", "1", "true" or "false"), got text of 5 characters',
    );
    expect(isLeft(flag) && isOutreachError(flag.left) && flag.left.code).toBe('INVALID_PROPERTY_VALUE');
    expect(isLeft(index.read('durationInMs'))).toBe(true);
    expect(index.get('isAttrition')).toBeUndefined();
    expect(index.read('campaignName')).toEqual({ _tag: 'Right', right: 'Trey Sample Illume Campaign' });
  });

  it('refuses numbers a double cannot hold exactly', () => {
    const message = exampleOutreachMessages().inspireForFaculty;
    message.outreachProperties[3]!.value = '9007199254740993';
    expect(isLeft(indexProperties(decoded(message)).read('rawEnrollmentId'))).toBe(true);
  });
});

describe('your own stable valueId map', () => {
  const ids = defineValueIds({
    campaignSent: 'c9a33a36-4cb0-2c42-352c-75e2911e2f27',
    textSent: 'c95267ff-2718-f2d3-1cd1-38f2f2bad8da',
    advisorInitiated: 'edc3b021-02f8-4e52-9980-e1f5fd6b89bc',
  });

  it('says which of your keys an outreach carries, in your key order', () => {
    expect(indexProperties(illume).matches(ids)).toEqual(['campaignSent', 'advisorInitiated']);
    expect(indexProperties(advisor).matches(ids)).toEqual(['textSent']);
    expect(indexProperties(faculty).matches(ids)).toEqual([]);
    expect(indexProperties(illume).has(ids, 'textSent')).toBe(false);
    expectTypeOf(indexProperties(illume).matches(ids)).toEqualTypeOf<('campaignSent' | 'textSent' | 'advisorInitiated')[]>();
  });

  it('still matches after Civitas renames the label', () => {
    const message = exampleOutreachMessages().illumeStudentsCampaign;
    message.outreachProperties[2]!.value = 'Campaign delivered';
    expect(indexProperties(decoded(message)).matches(ids)).toContain('campaignSent');
  });

  it('refuses an empty or shared valueId', () => {
    expect(() => defineValueIds({ a: '' })).toThrow(/a must be a non-empty valueId/);
    expect(() => defineValueIds({ a: 'x', b: 'x' })).toThrow(/b and a have the same valueId/);
  });
});
