// The frame every reliability test shares: its own broker (or none) and a PostgreSQL pool for the
// test's own view of the sink, started before and stopped after the file; and the exactness
// check every drain ends on.
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { startBroker, type BrokerHandle } from '../../scripts/activemq.mjs';
import { compareIds, PG, sinkCounts, sinkIds } from './support.js';

/** A broker of the file's own (restarting it disturbs no one else) and a pool; read them in tests. */
export function useBrokerAndSink(): { readonly broker: BrokerHandle; readonly pool: pg.Pool } {
  let broker: BrokerHandle | undefined;
  const pool = new pg.Pool({ ...PG, max: 2 });
  beforeAll(async () => {
    broker = await startBroker({ quiet: true });
  });
  afterAll(async () => {
    await broker?.stop();
    await pool.end();
  });
  return {
    get broker(): BrokerHandle {
      if (broker === undefined) throw new Error('the broker is not started yet');
      return broker;
    },
    pool,
  };
}

/** What the sink held at the end of a test. */
export interface SinkResult {
  rows: number;
  duplicates: number;
  missing: number;
}

/**
 * The sink holds exactly the outreach sent, each once; repeats (upserts that found the row) at
 * most `maxRepeats`. Prints `report(result)` first, so that a failing run shows its figures too.
 */
export async function expectExact(
  pool: pg.Pool,
  schema: string,
  sentIds: readonly string[],
  maxRepeats: number,
  report: (result: SinkResult) => string,
): Promise<SinkResult> {
  const { rows, duplicates } = await sinkCounts(pool, schema);
  const { missing, unexpected } = compareIds(sentIds, await sinkIds(pool, schema));
  console.log(`[reliability] ${report({ rows, duplicates, missing: missing.length })}`);
  expect(missing, 'outreach sent but not in the sink').toEqual([]);
  expect(unexpected, 'outreach in the sink that were never sent').toEqual([]);
  expect(rows).toBe(sentIds.length);
  expect(duplicates, 'repeats beyond the in-flight window').toBeLessThanOrEqual(maxRepeats);
  return { rows, duplicates, missing: missing.length };
}
