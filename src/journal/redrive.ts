import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { OutreachError } from '../errors/outreach-error.js';
import type { Outreach } from '../message/outreach.js';
import { DEAD_LETTERS_FILE, listDeadLetters, type DeadLetterInfo } from './dead-letters.js';
import { syncDirectory } from './line-file.js';
import { JournalLockError, lockDirectory } from './lock.js';
import { runLines, type ReplayFailure, type ReplayOptions } from './replay-run.js';
import { replayLines, type ReplayedLine } from './replay.js';

/** Options of {@link redriveDeadLetters}. */
export interface RedriveOptions<A = Outreach> extends Pick<ReplayOptions<A>, 'handler' | 'concurrency' | 'prefetch' | 'strategy' | 'codec' | 'logger' | 'signal'> {
  /** The journal's directory (its `dead-letters.jsonl`). */
  readonly dir: string;
  /** Only the dead letter of this message id (compared as text); all of them when absent. */
  readonly messageId?: string | number;
}

/** What {@link redriveDeadLetters} did. */
export interface RedriveReport {
  /** Dead letters run through the handler. */
  readonly selected: number;
  /** Accepted by the strategy: removed from the dead letters. */
  readonly redriven: number;
  /** Failed again (or undecodable): kept, with the new reason. */
  readonly failed: readonly ReplayFailure[];
  /** Not settled when the re-drive stopped (its signal): kept as they were. */
  readonly unfinished: number;
  /** Whether every selected dead letter was run and settled. */
  readonly complete: boolean;
}

/**
 * Runs a journal's dead letters (all, or one by message id) through `handler` again, through the
 * same engine and strategy as a live consumer, after you fixed what made them fail. Those the
 * strategy accepts are removed from `dead-letters.jsonl`; those that fail again stay, with the new
 * reason and time. The file is rewritten to a new file (0600), fsynced and renamed over the old one.
 * It takes the journal's lock: stop the consumer that owns the directory first.
 *
 * @example
 * ```ts
 * const report = await redriveDeadLetters({ dir: '/var/lib/outreach/journal', handler: (d) => crm.upsert(d.outreach) });
 * ```
 * @throws {@link OutreachError} `JOURNAL_IN_USE` (rejects) while a consumer holds the directory;
 *   `INVALID_ARGUMENT` naming the option; `JOURNAL_FAILED` if the dead letters cannot be read or rewritten
 */
export async function redriveDeadLetters<A = Outreach>(options: RedriveOptions<A>): Promise<RedriveReport> {
  if (options === null || typeof options !== 'object') throw new OutreachError('INVALID_ARGUMENT', 'redriveDeadLetters: options must be an object');
  if (typeof options.dir !== 'string' || options.dir === '') throw new OutreachError('INVALID_ARGUMENT', 'redriveDeadLetters: dir must be a journal directory');
  const { messageId } = options;
  if (messageId !== undefined && typeof messageId !== 'string' && typeof messageId !== 'number') {
    throw new OutreachError('INVALID_ARGUMENT', 'redriveDeadLetters: messageId must be a string or a number');
  }
  let release: () => Promise<void>;
  try {
    release = await lockDirectory(options.dir);
  } catch (error) {
    if (error instanceof JournalLockError) throw new OutreachError('JOURNAL_IN_USE', error.message, { cause: error });
    throw new OutreachError('JOURNAL_FAILED', `redriveDeadLetters: ${(error as Error).message}`, { cause: error });
  }
  try {
    // The file line of each dead letter run, in the order the engine numbers them (from 1).
    const fileLines: number[] = [];
    const accepted = new Set<number>();
    async function* selected(): AsyncGenerator<ReplayedLine> {
      for await (const line of listDeadLetters(options.dir)) {
        if (messageId !== undefined && String(line.messageId) !== String(messageId)) continue;
        fileLines.push(line.line);
        yield line;
      }
    }
    const path = join(options.dir, DEAD_LETTERS_FILE);
    const { log, report } = await runLines(selected(), path, options, { invalidPolicy: 'reject', accepted: (n) => void accepted.add(fileLines[n - 1]!) });
    if (log.failure !== undefined) throw new OutreachError('JOURNAL_FAILED', `redriveDeadLetters: ${(log.failure as Error).message}`, { cause: log.failure });
    const failedAgain = new Map(report.failed.map((f) => [f.line, f.reason]));
    if (accepted.size > 0 || failedAgain.size > 0) await rewrite(path, accepted, failedAgain);
    return { selected: report.selected, redriven: accepted.size, failed: report.failed, unfinished: report.unfinished, complete: report.complete };
  } catch (error) {
    if (error instanceof OutreachError) throw error;
    throw new OutreachError('JOURNAL_FAILED', `redriveDeadLetters: ${(error as Error).message}`, { cause: error });
  } finally {
    await release();
  }
}

/** Rewrites the dead letters without the `accepted` lines, and with a new reason on those that failed again. */
async function rewrite(path: string, accepted: ReadonlySet<number>, failedAgain: ReadonlyMap<number, string>): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    try {
      for await (const line of replayLines(path)) {
        if (accepted.has(line.line)) continue;
        const reason = failedAgain.get(line.line);
        await file.write(reason === undefined ? line.text : withReason(line.text, reason));
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw error;
  }
  await syncDirectory(dirname(path));
}

/** A dead letter's line with its `deadLetter` field replaced (the rest kept byte for byte). */
function withReason(text: string, reason: string): string {
  const prefix = '{"deadLetter":';
  const end = endOfObject(text, prefix.length);
  const old = JSON.parse(text.slice(prefix.length, end)) as DeadLetterInfo;
  const info: DeadLetterInfo = { at: new Date().toISOString(), reason, journalLine: old.journalLine };
  return `${prefix}${JSON.stringify(info)}${text.slice(end)}`;
}

/** The index just past the JSON object that starts at `start` (strings and escapes skipped). */
function endOfObject(text: string, start: number): number {
  let depth = 0;
  for (let i = start, inString = false; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') depth++;
    else if (c === '}' && --depth === 0) return i + 1;
  }
  throw new Error('a dead letter line whose deadLetter field does not end');
}
