import { isRight } from 'fp-ts/lib/Either.js';
import { describe, expect, it } from 'vitest';
import { decodeOutreach, indexProperties } from '../../src/index.js';
import { makeOutreachMessage, makeOutreachMessages } from '../../src/testing/index.js';

describe('makeOutreachMessage', () => {
  it('is deterministic per seed and differs across seeds', () => {
    expect(makeOutreachMessage({ seed: 3 })).toEqual(makeOutreachMessage({ seed: 3 }));
    expect(makeOutreachMessage({ seed: 3 }).outreachId).not.toBe(makeOutreachMessage({ seed: 4 }).outreachId);
  });

  it('varies what the spec leaves open across a run', () => {
    const messages = [...makeOutreachMessages(300, { seed: 11 })];
    expect(new Set(messages.map((m) => m.outreachSource))).toEqual(new Set(['Illume Students', 'Advisor', 'Faculty']));
    expect(new Set(messages.map((m) => m.outreachMedium))).toEqual(new Set(['Campaign', 'Text', 'Email', 'Appointment']));
    const idTypes = new Set(messages.flatMap((m) => m.students.map((s) => typeof s.institutionPersonID)));
    expect(idTypes).toEqual(new Set(['number', 'string']));
    expect(messages.some((m) => m.employeeEmail === undefined)).toBe(true);
    expect(new Set(messages.map((m) => m.outreachId)).size).toBe(300);
  });

  it('makes messages that decode, with the documented properties readable', () => {
    for (const message of makeOutreachMessages(200, { seed: 99, students: 2 })) {
      const result = decodeOutreach(JSON.stringify(message));
      expect(isRight(result)).toBe(true);
      if (!isRight(result)) continue;
      expect(result.right.students).toHaveLength(2);
      const index = indexProperties(result.right);
      expect(typeof index.get('isSuccess')).toBe('boolean');
      expect(index.first('outreachMediumResult')?.valueId).toBeDefined();
    }
  });
});
