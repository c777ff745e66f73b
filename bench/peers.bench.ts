// Peers benchmark on a real local broker (ActiveMQ Classic, persistent store, AMQP over TLS with a
// password, as Amazon MQ runs it): our consumer with its defaults against the clients a user would
// otherwise pick, each draining the same persistent ~2.4 KB outreach from a fresh queue, rounds
// interleaved with the order rotated each round, a warm-up round first (not counted):
//
// - ours, defaults: OutreachConsumer from the built package with connection options only, event API
//   `start(handler)` with a trivial async handler (DEFAULT_PREFETCH, concurrency 1 as shipped);
// - ours, tuned: the same with `prefetch: 100` and `start(handler, { concurrency: 8 })`;
// - rhea accept-only: a bare rhea receiver, credit window 100, rhea accepting each on arrival;
// - Qpid JMS client-ack / auto-ack: Apache Qpid JMS 2.x (what Amazon MQ's docs use for AMQP) in
//   one JVM for all rounds (bench/peers/qpid-jms), `jms.prefetchPolicy.all=100`, a synchronous
//   receive() loop, CLIENT_ACKNOWLEDGE with message.acknowledge() per message, or
//   AUTO_ACKNOWLEDGE.
//
// Ours does more per message than the peers (decode and validate each body; settle after the
// handler): the ratio is what a user pays, or gains, for it against each client with its usual
// settings. Prints msg/s, the client process's CPU µs per message (process.cpuUsage for the Node
// runners, the JVM's process CPU for Qpid JMS), the broker's, and the per-round throughput ratio of
// ours (defaults and tuned) to each peer: median (min-max).
// Run: npm run bench:peers   (BENCH_MESSAGES, BENCH_ROUNDS, BENCH_WARMUP_ROUNDS; BENCH_MAVEN_REPO_LOCAL)
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
// The consumer as users run it: the built package (`npm run bench:peers` builds first).
import { makeOutreachMessages } from '../src/testing/index.js';
import type * as Api from '../src/index.js';
import { sendBodies } from '../examples/seed-dev-queue.js';
import { peersSection, type PeersRun, type PeersSummary } from './peers-table.js';
import { brokerOptions, groupCpuMs, record, rheaConnect, spread, timedDrain, type Spread } from './support.js';

const built = '../dist/index.js';
const { OutreachConsumer, DEFAULT_PREFETCH } = (await import(built)) as typeof Api;

const messages = Number(process.env.BENCH_MESSAGES ?? 20_000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
/** Untimed rounds first: the broker's, Node's and the JVM's JIT warm up on them. */
const warmupRounds = Number(process.env.BENCH_WARMUP_ROUNDS ?? 1);
/** The peers' prefetch: rhea's credit window and Qpid JMS's prefetch policy. */
const peerPrefetch = 100;
const bodies = [...makeOutreachMessages(messages, { seed: 11 })].map((m) => JSON.stringify(m));

const root = join(import.meta.dirname, '..');
const qpidDir = join(root, 'bench', 'peers', 'qpid-jms');
/** Where the pom puts its output (`<build><directory>`). */
const qpidOut = join(root, '.cache', 'peers', 'qpid-jms');
const mavenRepoLocal = process.env.BENCH_MAVEN_REPO_LOCAL ?? join(root, '.cache', 'maven');

interface Measured {
  readonly ms: number;
  /** CPU of the client's process over the drain, µs per message. */
  readonly cpuUs: number;
}

type Runner = (queue: string) => Promise<Measured>;

/** Times a runner in this process: wall time and this process's CPU (user + system). */
async function inNode(drain: () => Promise<number>): Promise<Measured> {
  const cpu = process.cpuUsage();
  const ms = await drain();
  const used = process.cpuUsage(cpu);
  return { ms, cpuUs: (used.user + used.system) / messages };
}

/** Ours with connection options only (`'default'`), or with this prefetch and concurrency. */
function ours(broker: BrokerHandle, tuned: 'default' | { prefetch: number; concurrency: number }): Runner {
  return (queue) =>
    inNode(() =>
      tuned === 'default'
        ? timedDrain(new OutreachConsumer(brokerOptions(broker, queue)), messages, 'default')
        : timedDrain(new OutreachConsumer({ ...brokerOptions(broker, queue), prefetch: tuned.prefetch }), messages, tuned.concurrency),
    );
}

/**
 * Extra settings of ours to measure beside the others, `BENCH_OURS=100/1,200/2` (prefetch/concurrency):
 * how the defaults were chosen. Each is a row of the table, like the other runners.
 */
const candidates = (process.env.BENCH_OURS ?? '')
  .split(',')
  .filter((c) => c.trim() !== '')
  .map((c) => {
    const [prefetch, concurrency] = c.split('/').map(Number);
    if (!Number.isInteger(prefetch) || !Number.isInteger(concurrency)) throw new Error(`BENCH_OURS: "${c}" is not prefetch/concurrency`);
    return { prefetch: prefetch!, concurrency: concurrency! };
  });

/** A bare rhea receiver as a typical rhea user writes it: credit window 100, rhea accepts on arrival. */
function rheaAcceptOnly(broker: BrokerHandle): Runner {
  return (queue) =>
    inNode(async () => {
      const connection = rheaConnect(broker);
      const started = performance.now();
      await new Promise<void>((resolve, reject) => {
        let got = 0;
        const receiver = connection.open_receiver({ source: { address: queue }, credit_window: peerPrefetch, autoaccept: true });
        receiver.on('message', () => {
          if (++got === messages) resolve();
        });
        connection.on('disconnected', (ctx) => (got < messages ? reject(ctx.error as Error) : undefined));
      });
      const ms = performance.now() - started;
      connection.close();
      return ms;
    });
}

/**
 * Compiles the Qpid JMS runner unless its classes are newer than its sources: offline first
 * (`mvn -o`, from the local repository), online when that fails (the first time, to resolve).
 */
function buildQpidJms(): void {
  const classFile = join(qpidOut, 'classes', 'QpidJmsDrain.class');
  const sources = [join(qpidDir, 'pom.xml'), join(qpidDir, 'src', 'main', 'java', 'QpidJmsDrain.java')];
  const lib = join(qpidOut, 'lib');
  if (existsSync(classFile) && existsSync(lib) && sources.every((s) => statSync(s).mtimeMs < statSync(classFile).mtimeMs)) return;
  const args = ['-q', '-B', '-Dstyle.color=never', `-Dmaven.repo.local=${mavenRepoLocal}`, 'compile', 'dependency:copy-dependencies'];
  const started = performance.now();
  let mvn = spawnSync('mvn', ['-o', ...args], { cwd: qpidDir, encoding: 'utf8' });
  if (mvn.error !== undefined) throw new Error(`mvn is needed for the Qpid JMS runner: ${mvn.error.message}`);
  let how = 'offline';
  if (mvn.status !== 0) {
    console.log(`Qpid JMS runner: not buildable offline from ${mavenRepoLocal}; resolving from the Maven repository once`);
    mvn = spawnSync('mvn', args, { cwd: qpidDir, encoding: 'utf8' });
    how = 'online';
  }
  if (mvn.status !== 0) throw new Error(`mvn failed to build bench/peers/qpid-jms:\n${`${mvn.stdout}${mvn.stderr}`.slice(-3000)}`);
  console.log(`Qpid JMS runner built ${how} in ${((performance.now() - started) / 1000).toFixed(1)} s (Maven repository ${mavenRepoLocal}, output ${qpidOut})`);
}

/** The Qpid JMS version the build copied (from the jar's name). */
function qpidVersion(): string {
  const jar = readdirSync(join(qpidOut, 'lib')).find((f) => /^qpid-jms-client-.*\.jar$/.test(f));
  return jar?.replace(/^qpid-jms-client-|\.jar$/g, '') ?? 'unknown';
}

/** One JVM for every Qpid JMS drain, driven over its stdin and stdout (see QpidJmsDrain.java). */
class QpidJms {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #lines: AsyncIterator<string>;
  readonly #dir: string;
  #stderr = '';

  private constructor(child: ChildProcessWithoutNullStreams, dir: string) {
    this.#child = child;
    this.#dir = dir;
    this.#lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    child.stderr.on('data', (d: Buffer) => (this.#stderr = (this.#stderr + d.toString()).slice(-4000)));
  }

  /**
   * Starts the JVM with a URL that trusts the test broker's CA (a PKCS12 truststore made with
   * keytool from its certificate) and asks for prefetch 100. The certificate names 127.0.0.1, so
   * the host name is checked as by default.
   */
  static async start(broker: BrokerHandle): Promise<QpidJms> {
    const dir = mkdtempSync(join(os.tmpdir(), 'peers-qpid-'));
    const trustStore = join(dir, 'trust.p12');
    const storePassword = randomBytes(12).toString('hex');
    const keytool = spawnSync('keytool', ['-importcert', '-noprompt', '-alias', 'broker', '-file', broker.caPath, '-keystore', trustStore, '-storetype', 'PKCS12', '-storepass', storePassword], { encoding: 'utf8' });
    if (keytool.status !== 0) throw new Error(`keytool -importcert failed: ${keytool.stderr}${keytool.stdout}`);
    const options = new URLSearchParams({
      'transport.trustStoreLocation': trustStore,
      'transport.trustStorePassword': storePassword,
      'transport.storeType': 'PKCS12',
      'jms.prefetchPolicy.all': String(peerPrefetch),
    });
    const url = `amqps://127.0.0.1:${broker.amqpsPort}?${options.toString()}`;
    const classpath = `${join(qpidOut, 'classes')}:${join(qpidOut, 'lib', '*')}`;
    const child = spawn('java', ['-cp', classpath, 'QpidJmsDrain', url, broker.username, broker.password], { stdio: ['pipe', 'pipe', 'pipe'] });
    const jms = new QpidJms(child, dir);
    const first = await jms.#next();
    if (!first.startsWith('ready ')) throw new Error(`Qpid JMS runner did not start: ${first}`);
    return jms;
  }

  async #next(): Promise<string> {
    const line = await this.#lines.next();
    if (line.done === true) throw new Error(`Qpid JMS runner exited: ${this.#stderr}`);
    return line.value;
  }

  runner(mode: 'client' | 'auto'): Runner {
    return async (queue) => {
      this.#child.stdin.write(`drain ${mode} ${queue} ${messages}\n`);
      const reply = await this.#next();
      const m = /^done (\d+) (\d+)$/.exec(reply);
      if (m === null) throw new Error(`Qpid JMS ${mode}-ack drain of ${queue}: ${reply}`);
      return { ms: Number(m[1]) / 1e6, cpuUs: Number(m[2]) / 1e3 / messages };
    };
  }

  async stop(): Promise<void> {
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.stdin.end();
    await exited;
    rmSync(this.#dir, { recursive: true, force: true });
  }
}

/** The version `java -version` reports. */
function javaVersion(): string {
  const out = spawnSync('java', ['-version'], { encoding: 'utf8' });
  return /version "([^"]+)"/.exec(`${out.stderr}${out.stdout}`)?.[1] ?? 'unknown';
}

/** Python Proton is measured only where it is already importable; no runner is written for it yet. */
function pythonProtonNote(): string {
  const probe = spawnSync('python3', ['-c', 'import proton; print(proton.VERSION)'], { encoding: 'utf8' });
  return probe.status === 0
    ? `python-qpid-proton ${probe.stdout.trim()} is importable, but this benchmark has no Python runner yet: not measured`
    : 'python-qpid-proton is not importable here: skipped';
}

interface Figure extends Measured {
  readonly brokerCpuUs: number;
}

buildQpidJms();
const broker = await startBroker({ quiet: true });
const jms = await QpidJms.start(broker);
const benchStarted = performance.now();
const loadBefore = os.loadavg()[0]!;
let loadMax = loadBefore;
try {
  const runners: [string, Runner][] = [
    ['ours, defaults', ours(broker, 'default')],
    ['ours, tuned (prefetch 100, concurrency 8)', ours(broker, { prefetch: 100, concurrency: 8 })],
    ...candidates.map((c): [string, Runner] => [`ours, prefetch ${c.prefetch}, concurrency ${c.concurrency}`, ours(broker, c)]),
    ['rhea accept-only', rheaAcceptOnly(broker)],
    ['Qpid JMS client-ack', jms.runner('client')],
    ['Qpid JMS auto-ack', jms.runner('auto')],
  ];
  const ourNames = ['ours, defaults', 'ours, tuned (prefetch 100, concurrency 8)'];
  const figures = new Map<string, Figure[]>(runners.map(([name]) => [name, []]));
  for (let round = -warmupRounds; round < rounds; round++) {
    const line: string[] = [];
    for (let k = 0; k < runners.length; k++) {
      const [name, run] = runners[(k + Math.max(round, 0)) % runners.length]!;
      const queue = `bench.peers.${randomUUID().slice(0, 8)}`;
      await sendBodies(broker, queue, bodies, { durable: true });
      const brokerCpu = groupCpuMs(broker.pid);
      const measured = await run(queue);
      loadMax = Math.max(loadMax, os.loadavg()[0]!);
      const brokerCpuUs = ((groupCpuMs(broker.pid) - brokerCpu) * 1000) / messages;
      // Every message taken off the queue, by whatever runner: none left, none dispatched again.
      const stats = await broker.queueStats(queue);
      if (stats === null || stats.size !== 0 || stats.dequeued !== messages) throw new Error(`${name} left ${queue} as ${JSON.stringify(stats)}`);
      if (round >= 0) figures.get(name)!.push({ ...measured, brokerCpuUs });
      line.push(`${name} ${Math.round((messages / measured.ms) * 1000)} msg/s (cpu ${measured.cpuUs.toFixed(0)} µs/msg, broker ${brokerCpuUs.toFixed(0)} µs/msg)`);
    }
    console.log(`${round < 0 ? 'warm-up round (not counted)' : `round ${round + 1}`}:\n  ${line.join('\n  ')}`);
  }

  const size = Math.round(bodies.reduce((n, s) => n + s.length, 0) / bodies.length);
  const summaries: PeersSummary[] = runners.map(([name]) => {
    const rows = figures.get(name)!;
    rows.forEach((f, i) => record('peers', name, { round: i + 1, msgPerSec: (messages / f.ms) * 1000, cpuUs: f.cpuUs, brokerCpuUs: f.brokerCpuUs }));
    // Per round: the runner's time over ours, i.e. our throughput over the runner's in that round.
    const ratio = (our: string): Spread => spread(rows.map((f, i) => f.ms / figures.get(our)![i]!.ms));
    return {
      runner: name,
      msgPerSec: spread(rows.map((f) => (messages / f.ms) * 1000)),
      cpuUs: spread(rows.map((f) => f.cpuUs)),
      brokerCpuUs: spread(rows.map((f) => f.brokerCpuUs)),
      oursDefaults: ratio(ourNames[0]!),
      oursTuned: ratio(ourNames[1]!),
    };
  });
  const cpus = os.cpus();
  const run: PeersRun = {
    at: new Date().toISOString(),
    machine: `${cpus.length} x ${cpus[0]?.model ?? 'unknown CPU'}, Node.js ${process.version}, Java ${javaVersion()}, ActiveMQ Classic ${broker.version}`,
    loadBefore, loadMax, loadAfter: os.loadavg()[0]!, minutes: (performance.now() - benchStarted) / 60_000,
    messages, bytes: size, rounds, warmupRounds, qpidJms: qpidVersion(), python: pythonProtonNote(), defaultPrefetch: DEFAULT_PREFETCH,
  };
  for (const summary of summaries) record('peers', 'summary', summary);
  record('peers', 'run', run);
  console.log(`\n${peersSection(run, summaries)}`);
} finally {
  await jms.stop();
  await broker.stop();
}
