import { describe, expect, it } from 'vitest';
import { isOutreachError, OutreachError } from '../../src/index.js';

describe('OutreachError', () => {
  it('carries code, retryable and cause', () => {
    const cause = new Error('socket closed');
    const err = new OutreachError('INVALID_ARGUMENT', 'prefetch must be positive', { cause, retryable: true });
    expect([err.code, err.retryable, err.cause, err.name]).toEqual(['INVALID_ARGUMENT', true, cause, 'OutreachError']);
    expect(new OutreachError('INVALID_ARGUMENT', 'x').retryable).toBe(false);
  });

  it('is recognised by name, as an error from another copy of the package would be', () => {
    const foreign = Object.assign(new Error('from the CJS copy'), { name: 'OutreachError', code: 'DECODE_FAILED' });
    expect(isOutreachError(foreign)).toBe(true);
    expect(isOutreachError(new Error('plain'))).toBe(false);
    expect(isOutreachError({ name: 'OutreachError', code: 'X' })).toBe(false);
  });
});
