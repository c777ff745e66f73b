// backoffDelay: no delay for the first attempt after a drop, then exponential growth with "equal
// jitter" (half fixed, half random), capped at maxDelayMs.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../src/connection/backoff.js';

const options = { initialDelayMs: 100, maxDelayMs: 10_000, maxAttempts: Number.POSITIVE_INFINITY };
const low = (): number => 0;
const high = (): number => 1;

describe('backoffDelay', () => {
  it('is 0 when nothing failed yet (the other endpoint is tried at once)', () => {
    expect(backoffDelay(0, options, low)).toBe(0);
    expect(backoffDelay(0, options, high)).toBe(0);
    expect(backoffDelay(0, options)).toBe(0);
    expect(backoffDelay(-1, options, high)).toBe(0);
  });

  it('starts at initialDelayMs and doubles with each failure', () => {
    const ceilings = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, high));
    expect(ceilings).toEqual([100, 200, 400, 800, 1600, 3200]);
    const floors = [1, 2, 3, 4, 5, 6].map((n) => backoffDelay(n, options, low));
    expect(floors).toEqual([50, 100, 200, 400, 800, 1600]);
  });

  it('never goes above maxDelayMs, even after very many failures', () => {
    expect(backoffDelay(8, options, high)).toBe(10_000); // 100 * 2^7 = 12800, capped
    expect(backoffDelay(8, options, low)).toBe(5_000);
    for (const n of [20, 31, 32, 100, 1_000, 1e9]) {
      const delay = backoffDelay(n, options, high);
      expect(delay, `failures=${n}`).toBe(10_000);
      expect(Number.isFinite(delay)).toBe(true);
    }
  });

  it('keeps the jitter within [ceiling/2, ceiling] for any random value', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 1, max: 120_000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (failures, initialDelayMs, maxDelayMs, r) => {
          const o = { initialDelayMs, maxDelayMs, maxAttempts: 3 };
          const ceiling = Math.min(maxDelayMs, initialDelayMs * 2 ** (failures - 1));
          const delay = backoffDelay(failures, o, () => r);
          // Rounded to whole milliseconds: allow the rounding at both ends.
          return delay >= Math.floor(ceiling / 2) && delay <= Math.ceil(ceiling) && delay <= maxDelayMs && Number.isInteger(delay);
        },
      ),
    );
  });

  it('grows monotonically in its floor and ceiling until the cap', () => {
    let previousLow = 0;
    let previousHigh = 0;
    for (let n = 1; n <= 40; n++) {
      const lo = backoffDelay(n, options, low);
      const hi = backoffDelay(n, options, high);
      expect(lo).toBeGreaterThanOrEqual(previousLow);
      expect(hi).toBeGreaterThanOrEqual(previousHigh);
      expect(lo).toBeLessThanOrEqual(hi);
      previousLow = lo;
      previousHigh = hi;
    }
  });

  it('uses Math.random by default, and differs between calls (jitter)', () => {
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(10, options)));
    expect(seen.size).toBeGreaterThan(1);
    for (const delay of seen) {
      expect(delay).toBeGreaterThanOrEqual(5_000);
      expect(delay).toBeLessThanOrEqual(10_000);
    }
  });
});
