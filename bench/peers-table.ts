// The peers section of docs/benchmarks.md, from the figures `bench:peers` records: printed by the
// benchmark at its end and written by `npm run bench` (BENCH_PEERS=1).
import type { Spread } from './support.js';

/** What `bench:peers` records once per run, to say where and how its figures were taken. */
export interface PeersRun {
  readonly at: string;
  readonly machine: string;
  readonly loadBefore: number;
  readonly loadAfter: number;
  /** The highest 1-minute load average seen between runners. */
  readonly loadMax: number;
  readonly minutes: number;
  readonly messages: number;
  readonly bytes: number;
  readonly rounds: number;
  readonly warmupRounds: number;
  readonly qpidJms: string;
  readonly python: string;
  /** The consumer's DEFAULT_PREFETCH in the build measured (absent in runs before it was recorded: 20). */
  readonly defaultPrefetch?: number;
}

/** One runner's figures across the counted rounds. */
export interface PeersSummary {
  readonly runner: string;
  readonly msgPerSec: Spread;
  readonly cpuUs: Spread;
  readonly brokerCpuUs: Spread;
  /** Per-round throughput of ours (defaults, tuned) over this runner's. */
  readonly oursDefaults: Spread;
  readonly oursTuned: Spread;
}

export const PEERS_HEADING = '## Peers (`bench:peers`): ours against the clients a user would otherwise pick';

const fmt = (s: Spread, digits = 0): string => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}-${s.max.toFixed(digits)})`;

/** The markdown section: what is measured, where, and the table. */
export function peersSection(run: PeersRun, summaries: readonly PeersSummary[]): string {
  return [
    PEERS_HEADING,
    '',
    `Each runner drains ${run.messages} persistent outreach messages (~${run.bytes} B, JSON text) from a fresh queue per round on ActiveMQ Classic with its KahaDB store, over AMQP+TLS with a password; ${run.rounds} rounds after ${run.warmupRounds} warm-up, the order rotated each round. ` +
      `Ours: the built package with connection options only (prefetch ${run.defaultPrefetch ?? 20}, concurrency 1), and tuned (\`prefetch: 100\`, \`concurrency: 8\`); it decodes and validates each body and settles after the handler, which the peers do not. ` +
      `Peers: a bare rhea receiver (credit window 100, accepting on arrival) and Apache Qpid JMS ${run.qpidJms} in one JVM for all rounds (\`jms.prefetchPolicy.all=100\`, a \`receive()\` loop reading each TextMessage's text; CLIENT_ACKNOWLEDGE with \`acknowledge()\` per message, or AUTO_ACKNOWLEDGE). ` +
      `CPU is per message, of the client's process (the Node process, or the whole JVM) and of the broker's. Ratios are per round, ours' throughput over the runner's: median (min-max). ${run.python}. ` +
      "The broker runs on the same CPUs and its store makes each persistent message cost it more than it costs a client (its column): throughput follows the broker and the machine's load, and the client CPU column is the steadier figure.",
    '',
    'Run: `npm run bench:peers` (BENCH_MESSAGES, default 20000; BENCH_ROUNDS, default 5; BENCH_WARMUP_ROUNDS, default 1), or `BENCH_PEERS=1 npm run bench` for it in this report. ' +
      'It builds the Qpid JMS runner (bench/peers/qpid-jms) with Maven into `.cache/peers/qpid-jms`: `mvn -o` from the local repository `.cache/maven` (BENCH_MAVEN_REPO_LOCAL), resolving from Maven Central only when that fails, the first time. Qpid JMS\'s own default prefetch is 1000 (`jms.prefetchPolicy.all=100` here, as for rhea).',
    '',
    `Run ${run.at}, ${run.machine}, load average (1 min) ${run.loadBefore.toFixed(2)} at the start, ${run.loadMax.toFixed(2)} at the most, ${run.loadAfter.toFixed(2)} at the end (other jobs share the machine), ${run.minutes.toFixed(0)} min.`,
    '',
    '| runner | msg/s | client CPU µs/msg | broker CPU µs/msg | ours defaults / runner | ours tuned / runner |',
    '| --- | --- | --- | --- | --- | --- |',
    ...summaries.map((s) => `| ${s.runner} | ${fmt(s.msgPerSec)} | ${fmt(s.cpuUs)} | ${fmt(s.brokerCpuUs)} | ${fmt(s.oursDefaults, 2)} | ${fmt(s.oursTuned, 2)} |`),
    '',
  ].join('\n');
}

/** The peers section of an earlier report (from its heading to the next `## `), or undefined. */
export function earlierPeersSection(report: string): string | undefined {
  const start = report.indexOf(`\n${PEERS_HEADING}\n`);
  if (start < 0) return undefined;
  const end = report.indexOf('\n## ', start + 1);
  return `${report.slice(start + 1, end < 0 ? undefined : end).trimEnd()}\n`;
}
