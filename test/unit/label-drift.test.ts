import { describe, expect, it } from 'vitest';
import { LabelDriftDetector, type LabelDrift, type Outreach, type OutreachProperty } from '../../src/index.js';

function outreach(outreachId: string, properties: Partial<OutreachProperty>[]): Outreach {
  return {
    outreachId,
    createdAt: '2018-06-11T19:35:15.366848',
    outreachSource: 'Advisor',
    outreachMedium: 'Email',
    students: [],
    outreachProperties: properties.map((p, i) => ({
      outreachPropertyId: String(i),
      outreachId,
      name: 'outreachReason',
      value: 'Bad GPA',
      createdAt: '2018-06-11T19:35:15.366848',
      ...p,
    })),
  };
}

describe('LabelDriftDetector', () => {
  it('reports "Bad GPA" renamed "GPA below threshold" under the same valueId, once', () => {
    const seen: LabelDrift[] = [];
    const detector = new LabelDriftDetector({ onDrift: (d) => seen.push(d) });
    expect(detector.observe(outreach('o1', [{ valueId: '123456' }]))).toEqual([]);
    expect(detector.observe(outreach('o2', [{ valueId: '123456' }]))).toEqual([]);
    const drifts = detector.observe(outreach('o3', [{ valueId: '123456', value: 'GPA below threshold' }]));
    expect(drifts).toEqual([
      {
        valueId: '123456',
        previous: { name: 'outreachReason', value: 'Bad GPA' },
        current: { name: 'outreachReason', value: 'GPA below threshold' },
        outreachId: 'o3',
      },
    ]);
    expect(seen).toEqual(drifts);
    expect(detector.observe(outreach('o4', [{ valueId: '123456', value: 'GPA below threshold' }]))).toEqual([]);
  });

  it('reports a renamed property name too, and ignores properties without valueId', () => {
    const detector = new LabelDriftDetector();
    detector.observe(outreach('o1', [{ valueId: 'v', name: 'outreachReason' }, { value: 'x' }]));
    expect(detector.observe(outreach('o2', [{ valueId: 'v', name: 'reason' }, { value: 'y' }]))).toHaveLength(1);
  });

  it('starts from labels saved by an earlier run', () => {
    const first = new LabelDriftDetector();
    first.observe(outreach('o1', [{ valueId: '123456' }]));
    const second = new LabelDriftDetector({ known: first.labels() });
    expect(second.observe(outreach('o2', [{ valueId: '123456', value: 'GPA below threshold' }]))).toHaveLength(1);
  });
});
