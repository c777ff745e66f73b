import { describe, expect, it } from 'vitest';
import { DuplicateFilter } from '../../src/index.js';

describe('DuplicateFilter', () => {
  it('remembers keys until they expire', () => {
    let now = 0;
    const filter = new DuplicateFilter({ ttlMs: 1000 }, () => now);
    expect(filter.has('a')).toBe(false);
    filter.remember('a');
    filter.remember(42);
    expect(filter.has('a')).toBe(true);
    expect(filter.has('42')).toBe(true);
    now = 1001;
    expect(filter.has('a')).toBe(false);
    expect(filter.size).toBe(1); // the expired key was dropped when looked up
  });

  it('forgets the oldest keys beyond maxKeys, and remembering again refreshes a key', () => {
    const filter = new DuplicateFilter({ maxKeys: 3 });
    for (const key of ['a', 'b', 'c']) filter.remember(key);
    filter.remember('a'); // now the newest
    filter.remember('d'); // evicts b, the oldest
    expect(['a', 'b', 'c', 'd'].map((k) => filter.has(k))).toEqual([true, false, true, true]);
    expect(filter.size).toBe(3);
  });

  it('refuses bounds that cannot work', () => {
    expect(() => new DuplicateFilter({ maxKeys: 0 })).toThrow(/maxKeys/);
    expect(() => new DuplicateFilter({ ttlMs: 0 })).toThrow(/ttlMs/);
  });
});
