// The examples users copy must run as shipped, on the embedded default (each starts its own
// broker and fills a development queue with sample outreach).
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const run = async (file: string): Promise<string> => {
  const env = { ...process.env };
  delete env.CIVITAS_URL;
  const { stdout } = await promisify(execFile)(join(root, 'node_modules', '.bin', 'tsx'), [file], { cwd: root, env, timeout: 170_000 });
  return stdout;
};

describe('examples on the embedded default', () => {
  it('iterator.ts reads every sample and closes', async () => {
    const out = await run('examples/iterator.ts');
    expect(out.match(/student\(s\), result/g)).toHaveLength(20);
    expect(out).toContain('iterator done; state: closed');
  });

  it('events.ts stores every sample with concurrency and reports', async () => {
    const out = await run('examples/events.ts');
    expect(out).toContain('stored 50 outreach');
    expect(out).toMatch(/closed \{[\s\S]*accepted: 50/);
  });

  it('drain-to-postgres.ts (npm run example:postgres) stores every sample in PostgreSQL', async () => {
    const out = await run('examples/drain-to-postgres.ts');
    expect(out).toContain('stored 500 this run; in PostgreSQL (schema civitas_dev): 500 outreach');
    expect(out).toMatch(/accepted: 500/);
  });
});
