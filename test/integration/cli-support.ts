// Runs the built command line (dist/cli.js) as a user would: a child process with CIVITAS_*
// variables, real ports, real files. `npm test` builds first; a stale build fails loudly.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { TestBroker } from './support.js';

const root = join(import.meta.dirname, '..', '..');
export const CLI = join(root, 'dist', 'cli.js');

/** Fails when dist/cli.js is missing or older than a source file it is built from. */
export function assertCliBuilt(): void {
  if (!existsSync(CLI)) throw new Error('dist/cli.js is missing: run `npm run build` first');
  const built = statSync(CLI).mtimeMs;
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newest(join(dir, e.name)) : e.name.endsWith('.ts') ? statSync(join(dir, e.name)).mtimeMs : 0)),
    );
  if (newest(join(root, 'src')) > built) throw new Error('dist/cli.js is older than src/: run `npm run build` first');
}

/** CIVITAS_* settings for the test broker (TLS, its CA trusted) and a queue; nothing else from the caller's CIVITAS_*. */
export function cliEnv(broker: TestBroker, queue: string, extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of Object.keys(env)) if (key.startsWith('CIVITAS_')) delete env[key];
  Object.assign(env, {
    CIVITAS_URL: `amqp+ssl://127.0.0.1:${broker.amqpsPort}`,
    CIVITAS_USERNAME: broker.username,
    CIVITAS_PASSWORD: broker.password,
    CIVITAS_QUEUE: queue,
    CIVITAS_CA: broker.caPath,
  });
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  return env;
}

export interface CliRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A running command: its output so far, and how it ended. */
export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  readonly done: Promise<CliRun>;
}

/** Starts `civitas-outreach ...args` (stdin closed, so never a terminal). */
export function startCli(args: readonly string[], env: NodeJS.ProcessEnv): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<CliRun>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, done };
}

/** Runs `civitas-outreach ...args` to the end (killed after `timeoutMs`). */
export async function runCli(args: readonly string[], env: NodeJS.ProcessEnv, timeoutMs = 60_000): Promise<CliRun> {
  const run = startCli(args, env);
  const timer = setTimeout(() => run.child.kill('SIGKILL'), timeoutMs);
  try {
    return await run.done;
  } finally {
    clearTimeout(timer);
  }
}

/** The complete lines of a JSON-lines file, parsed (an incomplete last line is left out). */
export function readLines<T = ArchivedLine>(file: string): T[] {
  if (!existsSync(file)) return [];
  const text = readFileSync(file, 'utf8');
  const complete = text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as T);
}

/** What pull and peek write per message. */
export interface ArchivedLine {
  messageId: string | number | null;
  deliveryCount: number;
  receivedAt: string;
  outreachId?: string;
  invalid?: { kind: string; message: string };
  body?: unknown;
  bodyText?: string;
  bodyBase64?: string;
}

/** A loopback port nobody listens on. */
export { unusedPort as closedPort } from './support.js';
