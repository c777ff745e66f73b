import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readLine, type ReadLine } from './line.js';

/** @internal Which lines to replay; every given condition must hold. */
export interface ReplayFilter {
  /** Received at or after this instant (the line's `receivedAt`). */
  readonly since?: Date | undefined;
  /** Received before this instant. */
  readonly until?: Date | undefined;
  /** Only the outreach with this id. */
  readonly outreachId?: string | undefined;
  /** Only outreach from this source (the body's `outreachSource`, e.g. `Advisor`). */
  readonly source?: string | undefined;
}

/** @internal One line read back, as written (with its `\n`), and what the filter looked at. */
export interface ReplayedLine {
  readonly text: string;
  readonly messageId: string | number | null;
  readonly receivedAt: Date;
  readonly outreachId: string | undefined;
  /** The file it came from and its line number there (from 1). */
  readonly file: string;
  readonly line: number;
}

/** @internal A line that is not one of ours (or is damaged): replay stops rather than guess. */
export class ReplayLineError extends Error {
  constructor(file: string, line: number, why: string) {
    super(`${file}:${line}: not a civitas-outreach line (${why})`);
    this.name = 'ReplayLineError';
  }
}

/**
 * @internal The lines of a `pull` archive (a file) or of a consumer's journal (a directory: its
 * `segments/*.jsonl` in order), oldest first, that pass `filter`, read in chunks of 256 KiB
 * as they are asked for (no benchmark yet measures its memory). An incomplete last line (a run killed mid-write: its message was never
 * accepted) is skipped, as `pull` and the journal cut it off themselves.
 */
export async function* replayLines(path: string, filter: ReplayFilter = {}): AsyncGenerator<ReplayedLine> {
  const files = (await stat(path)).isDirectory() ? await segmentFiles(path) : [path];
  for (const file of files) {
    let n = 0;
    for await (const text of completeLines(file)) {
      n++;
      const read = parseLine(text, file, n);
      if (passes(read, filter)) yield { text, messageId: read.messageId ?? null, receivedAt: read.receivedAt, outreachId: read.outreachId, file, line: n };
    }
  }
}

async function segmentFiles(dir: string): Promise<string[]> {
  const segments = join(dir, 'segments');
  return (await readdir(segments))
    .filter((name) => /^\d{20}\.jsonl$/.test(name))
    .sort()
    .map((name) => join(segments, name));
}

/** The file's lines that end in `\n`, each with it. */
async function* completeLines(file: string): AsyncGenerator<string> {
  let rest = '';
  for await (const chunk of createReadStream(file, { encoding: 'utf8', highWaterMark: 256 * 1024 })) {
    const text = rest + (chunk as string);
    let from = 0;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', from)) {
      yield text.slice(from, i + 1);
      from = i + 1;
    }
    rest = text.slice(from);
  }
}

function parseLine(text: string, file: string, line: number): ReadLine {
  try {
    return readLine(text);
  } catch (error) {
    throw new ReplayLineError(file, line, error instanceof SyntaxError && !error.message.startsWith('not a civitas') ? 'not JSON' : 'no messageId or receivedAt');
  }
}

/** The body's `outreachSource`, if it is JSON with one. */
function sourceOf(body: string | Uint8Array): unknown {
  if (typeof body !== 'string') return undefined;
  try {
    return (JSON.parse(body) as { outreachSource?: unknown } | null)?.outreachSource;
  } catch {
    return undefined;
  }
}

function passes(line: ReadLine, filter: ReplayFilter): boolean {
  const at = line.receivedAt.getTime();
  if (filter.since !== undefined && at < filter.since.getTime()) return false;
  if (filter.until !== undefined && at >= filter.until.getTime()) return false;
  if (filter.outreachId !== undefined && line.outreachId !== filter.outreachId) return false;
  // The body is parsed only when a source is asked for.
  if (filter.source !== undefined && sourceOf(line.body) !== filter.source) return false;
  return true;
}
