// `npm run bench -- --quick` as CI runs it: every benchmark runs to the end (each starts its own
// broker) and the report names the machine and holds every section with figures. Nothing is
// asserted about the figures themselves: speed is measured, never asserted, in tests.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

describe('npm run bench -- --quick', () => {
  it('runs every benchmark and writes a report with each section, its baselines and ratios', { timeout: 900_000 }, () => {
    const out = join(mkdtempSync(join(tmpdir(), 'bench-report-')), 'benchmarks.md');
    // Never the peers benchmark here (Maven, persistent messages, 20 minutes): CI runs this test.
    const env = { ...process.env, BENCH_PEERS: '' };
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'bench/report.ts', '--quick', '--out', out], { cwd: root, encoding: 'utf8', timeout: 900_000, env });
    expect(run.status, run.stderr.slice(-2000)).toBe(0);
    const report = readFileSync(out, 'utf8');
    expect(report).toMatch(/^- \d+ x .+, \d+ GiB/m);
    expect(report).toMatch(/^- Node\.js v20\.\d+\.\d+, ActiveMQ Classic 5\.\d+\.\d+/m);
    const number = String.raw`-?\d+(\.\d+)?`;
    expect(report).toMatch(new RegExp(`^\\| varied outreach \\(1-5 students\\) \\| \\d+ B \\| ${number} \\| ${number} \\| ${number}x`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| event API / rhea accept-only \\| ${number} \\| ${number} \\| ${number} \\| >= 0\\.95 \\|$`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| iterator / rhea async accept \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| event API / rhea parse \\+ async accept \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| \\d+ \\| ours, event API \\| \\d+ \\| \\d+ MB \\| \\d+ MB \\| \\d+ \\| \\d+ \\|$`, 'm'));
    for (const runner of ['ours, event API', 'rhea parse \\+ accept']) {
      expect(report.match(new RegExp(`^\\| ${runner} \\| \\d+ \\| 500 msg/s \\| ${number} ms \\| ${number} ms \\| ${number} ms \\|$`, 'gm'))).toHaveLength(2);
    }
    expect(report.match(/^\| (1000|10000) \| \d+\.\d MB \| \d+ MB \|$/gm)).toHaveLength(2);
    // Campaign-sized bodies: held by bytes, at the default budget and at 128 MiB.
    expect(report.match(new RegExp(`^\\| 6\\.\\d\\d MB \\| (33\\.6|134\\.2) MB \\| \\d+ \\| \\d+ \\| ${number} MB \\| ${number}x \\| ${number}x \\|$`, 'gm'))).toHaveLength(2);
    expect(report).toMatch(/^## Failover \(the reliability suite's shared-store pair\)\n\nNot run with `--quick`/m);
    expect(report).toMatch(new RegExp(`^\\| ratio per delivery with poison / without \\(the poison's own deliveries accounted\\) \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| deliveries per good message with poison \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| ratio good-message throughput with poison / without \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| throughput ratio sdk / off \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| api, no provider \\| ${number} \\|`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| broker drain rate, journal on / off \\| ${number} \\| ${number} \\| ${number} \\|`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| handler rate, from a filled journal / from the broker \\| ${number}`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| 1 \\| journal on, from a filled journal \\| \\d+ \\| \\d+ \\|$`, 'm'));
    expect(report).toMatch(/^\| journal segment bytes per outreach \(body \d+ B\) \| \d+ \|/m);
    expect(report).toMatch(new RegExp(`^\\| replay --archive <journal dir>, lines/s over \\d+ lines \\| \\d+ \\|`, 'm'));
    expect(report).toMatch(new RegExp(`^\\| replay time / cat time \\| ${number}`, 'm'));
    expect(report).toMatch(/^## Peers \(`bench:peers`\).*\n\nNot run: `BENCH_PEERS=1 npm run bench`/m);
  });
});
