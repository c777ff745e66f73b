import { readFile } from 'node:fs/promises';
import type { LinkSettings } from '../connection/amqp-link.js';
import { parseEndpoints, type BrokerEndpoint } from '../connection/endpoints.js';
import { isOutreachError } from '../errors/outreach-error.js';
import { UsageError, type CliContext, type ParsedValues } from './command.js';
import { promptHidden } from './prompt.js';

/** Where the commands connect, from `CIVITAS_*` variables or flags of the same names. */
export interface ConnectionSettings {
  /** The URLs as given (one, or both endpoints of an active/standby broker). */
  readonly urls: readonly string[];
  /** The same, parsed: safe to print. */
  readonly endpoints: readonly BrokerEndpoint[];
  readonly username: string;
  readonly password: string;
  readonly queue: string;
  /** The PEM of `CIVITAS_CA`, if set. */
  readonly ca: string | undefined;
  /**
   * Plain `amqp://` to this machine (the dev queue, `civitas-outreach dev-queue`): the password
   * never leaves it. Anywhere else the URL must be TLS.
   */
  readonly allowInsecure: boolean;
}

/** Whether `host` is this machine: a plain-text password to it crosses no network. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** The flags every connecting command takes (no `--password`: see {@link resolveConnection}). */
export const CONNECTION_OPTIONS = {
  url: { type: 'string' },
  username: { type: 'string' },
  queue: { type: 'string' },
  ca: { type: 'string' },
} as const;

/** The part of every connecting command's `--help` that lists the settings. */
export const CONNECTION_HELP = `Settings (a flag wins over its variable):
  --url URL        CIVITAS_URL       amqp+ssl://b-….mq.<region>.amazonaws.com:5671; both endpoints of
                                     an active/standby broker comma-separated, or failover:(url1,url2)
  --username NAME  CIVITAS_USERNAME  the username Civitas gave you
                   CIVITAS_PASSWORD  the password; asked for when unset and stdin is a terminal.
                                     Never a flag: it would show in the process list and shell history.
  --queue NAME     CIVITAS_QUEUE     the queue name Civitas gave you
  --ca FILE        CIVITAS_CA        CA certificate (PEM) of a private broker; not needed for Amazon MQ`;

const PASSWORD_FLAG = /^--password(=|$)/;

/** Refuses a password on the command line before anything else is looked at. */
export function refusePasswordFlag(argv: readonly string[]): void {
  if (argv.some((arg) => PASSWORD_FLAG.test(arg))) {
    throw new UsageError(
      'there is no --password flag: a password on the command line shows in the process list and shell history; set CIVITAS_PASSWORD, or leave it unset to be asked',
    );
  }
}

function setting(values: ParsedValues, context: CliContext, flag: string, variable: string, what: string): string {
  const fromFlag = values[flag];
  const value = typeof fromFlag === 'string' ? fromFlag : context.env[variable];
  if (value === undefined || value.trim() === '') throw new UsageError(`missing ${what}: set ${variable} or pass --${flag}`);
  return value.trim();
}

/**
 * Resolves the connection settings: flags, then `CIVITAS_*` variables, then (for the password
 * only, and only on a terminal) a prompt. Checks the URL and reads the CA file, so that a typo is
 * reported before any connection is tried.
 * @throws {@link UsageError} for anything missing or malformed
 */
export async function resolveConnection(values: ParsedValues, context: CliContext): Promise<ConnectionSettings> {
  const url = setting(values, context, 'url', 'CIVITAS_URL', 'the broker URL (amqp+ssl://…:5671)');
  const urls = splitUrlList(url);
  let endpoints: BrokerEndpoint[];
  let allowInsecure = false;
  try {
    endpoints = parseEndpoints(urls.length === 1 ? urls[0]! : urls, false);
  } catch (error) {
    const local = isOutreachError(error) && error.code === 'INSECURE_URL' ? loopbackOnly(urls) : undefined;
    if (local === undefined) throw asUsageError(error, url);
    endpoints = local;
    allowInsecure = true;
  }
  const username = setting(values, context, 'username', 'CIVITAS_USERNAME', 'the username');
  const queue = setting(values, context, 'queue', 'CIVITAS_QUEUE', 'the queue name');
  if (/[,*>]/.test(queue)) throw new UsageError('CIVITAS_QUEUE must be one queue name: ActiveMQ reads "," as several queues and "*", ">" as wildcards');
  const caValue = values.ca;
  const caPath = typeof caValue === 'string' ? caValue : context.env.CIVITAS_CA;
  let ca: string | undefined;
  if (caPath !== undefined && caPath.trim() !== '') {
    try {
      ca = await readFile(caPath.trim(), 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read the CA certificate CIVITAS_CA=${caPath.trim()}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new UsageError(`CIVITAS_CA=${caPath.trim()} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  const password = await passwordFor(username, endpoints[0]!, context);
  return { urls, endpoints, username, password, queue, ca, allowInsecure };
}

/**
 * The URLs of a `CIVITAS_URL` value: comma-separated, where a `failover:(a,b)` list (with any
 * `?options` after it) stays one item, expanded later by the consumer's URL parser.
 */
export function splitUrlList(text: string): string[] {
  const items: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth = Math.max(0, depth - 1);
    else if ((c === ',' && depth === 0) || c === undefined) {
      const item = text.slice(start, i).trim();
      if (item !== '') items.push(item);
      start = i + 1;
    }
  }
  return items;
}

/** The endpoints of plain `amqp://` URLs when every one of them is this machine; else `undefined`. */
function loopbackOnly(urls: readonly string[]): BrokerEndpoint[] | undefined {
  try {
    const endpoints = parseEndpoints(urls.length === 1 ? urls[0]! : urls, true);
    return endpoints.every((e) => e.tls || isLoopback(e.host)) ? endpoints : undefined;
  } catch {
    return undefined;
  }
}

function asUsageError(error: unknown, url: string): unknown {
  if (!isOutreachError(error)) return error;
  // The library names its option (`url:`, `url[1]:`); here the setting is CIVITAS_URL.
  const reason = error.message.replace(/^url(\[\d+\])?: /, '').replace(/ or set allowInsecure: true for a local broker$/, '');
  return new UsageError(`CIVITAS_URL ${JSON.stringify(url)}: ${reason}${error.code === 'INSECURE_URL' ? ' (plain amqp:// is taken only for this machine: 127.0.0.1, ::1, localhost)' : ''}`);
}

async function passwordFor(username: string, endpoint: BrokerEndpoint, context: CliContext): Promise<string> {
  const fromEnv = context.env.CIVITAS_PASSWORD;
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (context.stdin.isTTY !== true) {
    throw new UsageError('missing the password: set CIVITAS_PASSWORD (it is asked for only when stdin is a terminal, and never taken as a flag)');
  }
  const typed = await promptHidden(`Password for ${username} at ${endpoint.label}: `, context);
  if (typed === '') throw new UsageError('no password given');
  return typed;
}

/** How long one connection attempt (TCP, TLS, SASL, open, attach) may take from the command line. */
export const CONNECT_TIMEOUT_MS = 15_000;

/** What one AMQP link needs, from the resolved settings. */
export function linkSettings(settings: ConnectionSettings): LinkSettings {
  return {
    queue: settings.queue,
    username: settings.username,
    password: settings.password,
    ca: settings.ca,
    servername: undefined,
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
    idleTimeoutMs: 15_000,
  };
}
