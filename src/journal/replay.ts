import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

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
 * `segments/*.jsonl` in order), oldest first, that pass `filter`. Reads as it goes (memory does
 * not grow with the file). An incomplete last line (a run killed mid-write: its message was never
 * accepted) is skipped, as `pull` and the journal cut it off themselves.
 */
export async function* replayLines(path: string, filter: ReplayFilter = {}): AsyncGenerator<ReplayedLine> {
  const files = (await stat(path)).isDirectory() ? await segmentFiles(path) : [path];
  for (const file of files) {
    let n = 0;
    for await (const text of completeLines(file)) {
      n++;
      const line = parseLine(text, file, n);
      if (passes(line, filter)) yield line;
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

interface Parsed {
  messageId?: unknown;
  receivedAt?: unknown;
  outreachId?: unknown;
  body?: { outreachSource?: unknown };
}

function parseLine(text: string, file: string, line: number): ReplayedLine & { readonly source: unknown } {
  let parsed: Parsed;
  try {
    parsed = JSON.parse(text) as Parsed;
  } catch {
    throw new ReplayLineError(file, line, 'not JSON');
  }
  const receivedAt = typeof parsed.receivedAt === 'string' ? new Date(parsed.receivedAt) : new Date(Number.NaN);
  if (parsed === null || typeof parsed !== 'object' || !('messageId' in parsed) || Number.isNaN(receivedAt.getTime())) {
    throw new ReplayLineError(file, line, 'no messageId or receivedAt');
  }
  const messageId = typeof parsed.messageId === 'string' || typeof parsed.messageId === 'number' ? parsed.messageId : null;
  const outreachId = typeof parsed.outreachId === 'string' ? parsed.outreachId : undefined;
  const body = parsed.body;
  const source = body !== null && typeof body === 'object' ? body.outreachSource : undefined;
  return { text, messageId, receivedAt, outreachId, file, line, source };
}

function passes(line: ReplayedLine & { readonly source: unknown }, filter: ReplayFilter): boolean {
  const at = line.receivedAt.getTime();
  if (filter.since !== undefined && at < filter.since.getTime()) return false;
  if (filter.until !== undefined && at >= filter.until.getTime()) return false;
  if (filter.outreachId !== undefined && line.outreachId !== filter.outreachId) return false;
  if (filter.source !== undefined && line.source !== filter.source) return false;
  return true;
}
