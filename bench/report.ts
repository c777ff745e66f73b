// `npm run bench [-- --quick] [-- --out FILE]`: runs the decode, throughput and latency, memory,
// poison, telemetry and journal benchmarks one after another (each prints as it goes), gathers the figures
// they record (BENCH_JSON), and writes docs/benchmarks.md: the machine, the versions, each figure
// with its baseline from the same run and the ratio. `--quick` runs small sizes (for CI: it shows
// the report is produced; its figures are too short to quote). The peers benchmark (Qpid JMS
// through Maven, persistent messages: about 20 minutes) runs only with BENCH_PEERS=1; otherwise
// the report keeps the peers section the file already had, marked as carried over.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { earlierPeersSection, PEERS_HEADING, peersSection, type PeersRun, type PeersSummary } from './peers-table.js';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({ options: { quick: { type: 'boolean' }, out: { type: 'string' } } });
const quick = values.quick === true;
const out = values.out ?? join(root, 'docs', 'benchmarks.md');

interface Step {
  readonly name: string;
  readonly args: string[];
  readonly env: Record<string, string>;
}

const node = ['--expose-gc'];
const tsx = ['--expose-gc', '--import', 'tsx'];
const steps: Step[] = [
  { name: 'decode', args: [...node, 'bench/decode.bench.mjs'], env: quick ? { BENCH_MESSAGES: '300', BENCH_ROUNDS: '3' } : {} },
  {
    name: 'consume',
    args: [...tsx, 'bench/consume.bench.ts'],
    env: quick ? { BENCH_MESSAGES: '2000', BENCH_ROUNDS: '2', BENCH_WARMUP_ROUNDS: '1', BENCH_LATENCY_SECONDS: '2', BENCH_LATENCY_WARMUP_SECONDS: '1', BENCH_BACKLOGS: '1000,10000', BENCH_BIG_BACKLOG: '6' } : {},
  },
  { name: 'poison', args: [...tsx, 'bench/poison.bench.ts'], env: quick ? { BENCH_GOOD: '200', BENCH_ROUNDS: '1' } : {} },
  { name: 'telemetry', args: [...tsx, 'bench/telemetry.bench.ts'], env: quick ? { BENCH_MESSAGES: '1000', BENCH_ROUNDS: '2' } : {} },
  {
    name: 'journal',
    args: [...tsx, 'bench/journal.bench.ts'],
    env: quick ? { BENCH_MESSAGES: '300', BENCH_ROUNDS: '1', BENCH_WARMUP_ROUNDS: '1', BENCH_REPLAY_LINES: '5000', BENCH_REPLAY_ROUNDS: '1' } : {},
  },
  // The reliability suite's shared-store failover, timed per run (it records when BENCH_JSON is set).
  ...(quick ? [] : [{ name: 'failover', args: [join(root, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--project', 'reliability', 'test/reliability/shared-store-failover.test.ts'], env: {} }]),
  ...(process.env.BENCH_PEERS === '1'
    ? [{ name: 'peers', args: ['--import', 'tsx', 'bench/peers.bench.ts'], env: quick ? { BENCH_MESSAGES: '1000', BENCH_ROUNDS: '1' } : {} }]
    : []),
];

interface Figure {
  readonly bench: string;
  readonly name: string;
  readonly [key: string]: unknown;
}

const dir = mkdtempSync(join(os.tmpdir(), 'bench-report-'));
const json = join(dir, 'figures.jsonl');
writeFileSync(json, '');
const loadBefore = os.loadavg();
const started = new Date();
try {
  const build = spawnSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (build.status !== 0) throw new Error('npm run build failed');
  for (const step of steps) {
    console.log(`\n== ${step.name} ==`);
    const run = spawnSync(process.execPath, step.args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...step.env, BENCH_JSON: json } });
    if (run.status !== 0) throw new Error(`the ${step.name} benchmark failed (exit ${run.status ?? run.signal})`);
  }
  const figures = readFileSync(json, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Figure);
  const earlier = existsSync(out) ? earlierPeersSection(readFileSync(out, 'utf8')) : undefined;
  writeFileSync(out, render(figures, quick, started, loadBefore, os.loadavg()) + peers(figures, earlier));
  console.log(`\nwrote ${out} (${figures.length} figures)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

function render(figures: readonly Figure[], isQuick: boolean, at: Date, before: number[], after: number[]): string {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const version = (name: string): string => (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  let activemq = 'unknown';
  try {
    activemq = (JSON.parse(readFileSync(join(root, '.cache', 'activemq', 'resolved-version.json'), 'utf8')) as { version: string }).version;
  } catch {
    // not fetched here
  }
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim() || 'unknown';
  const cpus = os.cpus();
  const of = (bench: string): Figure[] => figures.filter((f) => f.bench === bench);
  const n = (x: unknown, digits = 2): string => (typeof x === 'number' ? x.toFixed(digits) : String(x));
  const ratioRow = (f: Figure): string => `| ${f.name} | ${n(f['median'])} | ${n(f['min'])} | ${n(f['max'])} | ${f['goal'] === undefined ? '' : `>= ${String(f['goal'])}`} |`;
  const lines: string[] = [
    '---',
    'title: Benchmarks',
    '---',
    '',
    '# Benchmarks',
    '',
    isQuick
      ? '**Quick run** (`npm run bench -- --quick`): sizes too small to quote; it shows the report is produced.'
      : 'Written by `npm run bench`. Every figure is a ratio against a baseline measured in the same run, rounds interleaved, because the machine is shared and noisy: read the spread (min, max) next to each median.',
    '',
    '## The machine',
    '',
    `- ${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.type()} ${os.release()}`,
    `- load average (1 min) ${n(before[0])} at the start, ${n(after[0])} at the end (other jobs share the machine)`,
    `- Node.js ${process.version}, ActiveMQ Classic ${activemq} on loopback (AMQP over TLS with a password), rhea ${version('rhea')}`,
    `- civitas-outreach ${pkg.version} at ${commit}, ${at.toISOString()}`,
    '',
    '## Decoding (`bench:decode`): decodeOutreach against JSON.parse alone, same bodies',
    '',
    '| bodies | mean size | JSON.parse µs/body | decodeOutreach µs/body | ratio median | min | max |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...of('decode')
      .filter((f) => f['median'] !== undefined)
      .map((f) => `| ${f.name} | ${String(f['meanBytes'])} B | ${n(Number(f['parseMsPerBody']) * 1000, 1)} | ${n(Number(f['decodeMsPerBody']) * 1000, 1)} | ${n(f['median'])}x | ${n(f['min'])}x | ${n(f['max'])}x |`),
    '',
    'Goal: at most 1.5x on varied outreach; a wrong shape at most 3x. Peak memory of one call over the worst bodies (each in a fresh process):',
    '',
    '| body | JSON.parse | decodeOutreach |',
    '| --- | --- | --- |',
    ...of('decode')
      .filter((f) => f['parseMB'] !== undefined)
      .map((f) => `| ${f.name.replace('peak memory, ', '')} | ${n(f['parseMB'], 1)} MB | ${n(f['decodeMB'], 1)} MB |`),
    '',
    '## Throughput (`bench:consume`): the consumer against bare rhea receivers, same broker, same bodies',
    '',
    'Baselines: a rhea receiver that only accepts (autoaccept), one that accepts after an awaited callback, and one that also runs `JSON.parse` over each body first (the part of decoding no client can skip). Ours: decode, validation, at-least-once settlement after the handler, prefetch kept; telemetry off. CPU per message is this process\'s and the broker\'s (both on this machine).',
    '',
    '| ratio (ours / baseline) | median | min | max | goal |',
    '| --- | --- | --- | --- | --- |',
    ...of('consume')
      .filter((f) => f.name.startsWith('ratio'))
      .map((f) => ratioRow({ ...f, name: f.name.replace('ratio ', '') })),
    '',
    '| round | runner | msg/s | heap | RSS | CPU µs/msg | broker CPU µs/msg |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...of('consume')
      .filter((f) => f['round'] !== undefined)
      .map((f) => `| ${String(f['round'])} | ${f.name} | ${n(f['msgPerSec'], 0)} | ${n(f['heapMB'], 0)} MB | ${n(f['rssMB'], 0)} MB | ${n(f['cpuUs'], 0)} | ${n(f['brokerCpuUs'], 0)} |`),
    '',
    '## Latency: from publish to handler at a steady rate',
    '',
    'Ours (to the handler) and a bare rhea receiver (to its message event, after `JSON.parse`) alternately, twice each, same broker and rate; the first seconds of each run are sent but not counted (warm-up). Goal: p99 under 10 ms for ours.',
    '',
    '| runner | messages | rate | p50 | p99 | max |',
    '| --- | --- | --- | --- | --- | --- |',
    ...of('consume')
      .filter((f) => f.name === 'latency')
      .map((f) => `| ${String(f['runner'])} | ${String(f['count'])} | ${String(f['rate'])} msg/s | ${n(f['p50'])} ms | ${n(f['p99'])} ms | ${n(f['max'], 1)} ms |`),
    '',
    '## Memory: bounded by prefetch, not by the backlog',
    '',
    'A handler that never finishes, so the consumer holds all it may (prefetch 1000); heap growth after full collections:',
    '',
    '| backlog on the queue | heap held | RSS |',
    '| --- | --- | --- |',
    ...of('consume')
      .filter((f) => f.name === 'memory held')
      .map((f) => `| ${String(f['backlog'])} | ${n(f['heapMB'], 1)} MB | ${n(f['rssMB'], 0)} MB |`),
    '',
    'Campaign-sized bodies: a backlog of 12 campaigns to 40,000 students each (6 with --quick), default options but `maxHeldBytes`, a handler that never finishes. Held by bytes, not by prefetch; heap growth after full collections and peak RSS growth, per held message over its body (goal: RSS at most 1.5x). RSS keeps what the process grew to, so it reads high when few are held.',
    '',
    '| body | maxHeldBytes | prefetch | held | bodies held | heap per held / body | RSS per held / body |',
    '| --- | --- | --- | --- | --- | --- | --- |',
    ...of('consume')
      .filter((f) => f.name === 'big messages held')
      .map((f) => `| ${n(f['bodyMB'], 2)} MB | ${n(f['maxHeldMB'], 1)} MB | ${String(f['prefetch'] ?? '')} | ${String(f['held'])} | ${n(Number(f['heldBytes']) / 1e6, 1)} MB | ${n(f['heapPerBody'], 2)}x | ${n(f['rssPerBody'], 2)}x |`),
    '',
    ...failoverSection(of('failover'), isQuick),
    '## Poison (`bench:poison`) and telemetry (`bench:telemetry`)',
    '',
    '| ratio | median | min | max | goal |',
    '| --- | --- | --- | --- | --- |',
    ...of('poison').map(ratioRow),
    ...of('telemetry')
      .filter((f) => f.name.startsWith('throughput'))
      .map(ratioRow),
    '',
    '| telemetry hooks alone, ns per delivery | median | min | max |',
    '| --- | --- | --- | --- |',
    ...of('telemetry')
      .filter((f) => f.name.startsWith('hooks'))
      .map((f) => `| ${f.name.replace('hooks alone, ns per delivery: ', '')} | ${n(f['median'], 0)} | ${n(f['min'], 0)} | ${n(f['max'], 0)} |`),
    '',
    '## Journal mode (`bench:journal`): journal on against off, same broker, same bodies',
    '',
    `Persistent messages of ~${n(of('journal').find((f) => f['bodyBytes'] !== undefined)?.['bodyBytes'], 0)} B on KahaDB, concurrency 8, a handler that does nothing (so the broker side is measured, not the handler). Broker drain rate: messages per second until the broker's queue is empty (read over JMX every 20 ms). Handler rate from a filled journal: the broker drained into the journal with the handler stuck, then the handler let go; against the handler rate from the broker with journal off. Replay: \`civitas-outreach replay --archive <journal dir>\` to /dev/null against \`cat\` of the same segment files, both timed with the start of their process.`,
    '',
    '| ratio | median | min | max | goal |',
    '| --- | --- | --- | --- | --- |',
    ...of('journal')
      .filter((f) => f.name.startsWith('ratio'))
      .map((f) => ratioRow({ ...f, name: f.name.replace('ratio ', '') })),
    '',
    '| round | runner | broker drained msg/s | handler settled msg/s |',
    '| --- | --- | --- | --- |',
    ...of('journal')
      .filter((f) => f['round'] !== undefined)
      .map((f) => `| ${String(f['round'])} | ${f.name} | ${n(f['brokerMsgPerSec'], 0)} | ${n(f['handlerMsgPerSec'], 0)} |`),
    '',
    '| figure | median | min | max |',
    '| --- | --- | --- | --- |',
    ...of('journal')
      .filter((f) => f.name === 'bytes per outreach')
      .map((f) => `| journal segment bytes per outreach (body ${n(f['bodyBytes'], 0)} B) | ${n(f['median'], 0)} | ${n(f['min'], 0)} | ${n(f['max'], 0)} |`),
    ...of('journal')
      .filter((f) => f.name.startsWith('replay: '))
      .map((f) => `| ${f.name.replace('replay: ', '')}, lines/s over ${String(f['lines'])} lines | ${n(f['median'], 0)} | ${n(f['min'], 0)} | ${n(f['max'], 0)} |`),
    '',
  ];
  return `${lines.join('\n')}\n`;
}

/** The peers section: from this run's figures, else the one the report had (marked), else how to run it. */
function peers(figures: readonly Figure[], earlier: string | undefined): string {
  const run = figures.find((f) => f.bench === 'peers' && f.name === 'run');
  if (run !== undefined) {
    const summaries = figures.filter((f) => f.bench === 'peers' && f.name === 'summary');
    return peersSection(run as unknown as PeersRun, summaries as unknown as PeersSummary[]);
  }
  const carried = '_Carried over from an earlier report: this one ran without BENCH_PEERS=1._';
  if (earlier !== undefined) return earlier.replace(`\n\n${carried}`, '').replace(PEERS_HEADING, `${PEERS_HEADING}\n\n${carried}`);
  return `${PEERS_HEADING}\n\nNot run: \`BENCH_PEERS=1 npm run bench\` or \`npm run bench:peers\` (needs Maven; about 20 minutes).\n`;
}

/** The failover split per run, from the reliability suite's shared-store pair (not run with --quick). */
function failoverSection(rows: readonly Figure[], isQuick: boolean): string[] {
  const ms = (v: unknown): string => (typeof v === 'number' ? String(Math.round(v)) : '');
  const share = (f: Figure, key: string): string => (typeof f[key] === 'number' && typeof f['brokerServingMs'] === 'number' ? ms((f[key] as number) - (f['brokerServingMs'] as number)) : '');
  const heading = ["## Failover (the reliability suite's shared-store pair)", ''];
  if (isQuick) return [...heading, 'Not run with `--quick`: `npm run test:reliability` prints the same split.', ''];
  return [
    ...heading,
    'Two ActiveMQ brokers on one KahaDB directory, the consumer given both endpoints, 10,000 persistent outreach draining into PostgreSQL: the active broker is killed with SIGKILL mid-drain, twice; then both are down for 45 s (the consumer deep in its back-off) and one comes back. Times in ms from the kill; the client\'s share is from the moment the broker served (its log\'s "started" line) to the consumer connected, and to its first message handled. Goal: the client\'s share under 1 s in every run.',
    '',
    '| case | run | lock taken | broker serving | consumer connected | first handled | client share: connected | client share: first handled |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...rows.map((f) => `| ${f.name} | ${String(f['run'])} | ${ms(f['lockTakenMs'])} | ${ms(f['brokerServingMs'])} | ${ms(f['clientConnectedMs'])} | ${ms(f['firstHandledMs'])} | ${share(f, 'clientConnectedMs')} | ${share(f, 'firstHandledMs')} |`),
    '',
  ];
}
