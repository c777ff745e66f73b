import { constants } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { LineFile, syncDirectory } from './line-file.js';
import { lockDirectory } from './lock.js';
import type { LineLog } from './journal-link.js';

/** @internal Default size at which a segment file is closed and the next one begun. */
export const DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024;

const SEGMENTS = 'segments';
const CURSOR = 'cursor.json';
const SEGMENT_NAME = /^(\d{20})\.jsonl$/;

/** @internal Options of {@link JournalStore.open}. */
export interface JournalStoreOptions {
  /** Size at which a segment is closed and the next one begun. @defaultValue 8 MiB */
  readonly segmentBytes?: number;
}

/** @internal What to keep of the handled part of the journal (the unhandled part is always kept). */
export interface Retention {
  /** Delete handled segments whose newest line is older than this. */
  readonly maxAgeMs?: number;
  /** Delete the oldest handled segments while all segments together are larger. */
  readonly maxBytes?: number;
}

interface Segment {
  /** Sequence number of its first line. */
  readonly first: number;
  readonly path: string;
  /** Byte offset of each line's start, then of the end of the last line. */
  readonly offsets: number[];
  /** When its last line was appended (its file's mtime when found at open). */
  lastWrite: number;
  reader: FileHandle | undefined;
}

/**
 * @internal The consumer's journal on disk: an append-only sequence of lines in pull's format
 * (`line.ts`), numbered from 1, in segment files named by the number of their first line, and a
 * cursor of what the handler has settled. Everything is created 0600 in a directory that one
 * process holds at a time (`LOCK`).
 *
 * - {@link JournalStore.append} resolves with a line's number once it is written and fsynced
 *   (lines appended together share one write and one fsync, as `pull` does);
 * - {@link JournalStore.read} gives a line back by number, once it is durable;
 * - {@link JournalStore.settle} records that lines are done with and resolves once the cursor
 *   saying so is on disk (written to a new file, fsynced, renamed over the old one): after a crash
 *   the journal resumes at the first line not settled, and the lines settled above it are skipped;
 * - {@link JournalStore.prune} deletes whole segments that are entirely settled and past the
 *   retention; never a line that is not settled.
 *
 * A line cut short by a crash (its fsync never returned, so its message was never accepted on the
 * broker) is cut off at open, as `pull` does.
 */
export class JournalStore implements LineLog {
  readonly dir: string;
  readonly #segmentBytes: number;
  readonly #segments: Segment[];
  readonly #release: () => Promise<void>;
  /** The file of the segment being written (a promise while a new segment's file is being opened). */
  #writer: Promise<LineFile>;
  /** The number the next appended line gets. */
  #next: number;
  /** Lines below this number are durable (their fsync returned). */
  #durable: number;
  /** The first line not settled. */
  #cursor: number;
  /** Lines at or above the cursor that are settled. */
  readonly #settledAbove = new Set<number>();
  #cursorWrite: Promise<void> = Promise.resolve();
  /** A cursor write that has not started yet. */
  #cursorQueued: Promise<void> | undefined;
  #closed = false;
  readonly #onDurable = new Set<() => void>();
  readonly #onSettled = new Set<() => void>();

  private constructor(dir: string, segmentBytes: number, segments: Segment[], writer: Promise<LineFile>, cursor: number, settled: readonly number[], release: () => Promise<void>) {
    this.dir = dir;
    this.#segmentBytes = segmentBytes;
    this.#segments = segments;
    this.#writer = writer;
    const last = segments.at(-1)!;
    this.#next = last.first + last.offsets.length - 1;
    this.#durable = this.#next;
    this.#cursor = Math.max(cursor, segments[0]!.first);
    for (const n of settled) if (n >= this.#cursor && n < this.#next) this.#settledAbove.add(n);
    this.#advance();
    this.#release = release;
  }

  /**
   * Opens (creates) the journal in `dir`, taking its lock.
   * @throws JournalLockError if another process holds it; an `errno` error if it cannot be created
   */
  static async open(dir: string, options: JournalStoreOptions = {}): Promise<JournalStore> {
    await mkdir(join(dir, SEGMENTS), { recursive: true, mode: 0o700 });
    const release = await lockDirectory(dir);
    try {
      const segments = await loadSegments(join(dir, SEGMENTS));
      const { cursor, settled } = await readCursor(join(dir, CURSOR));
      if (segments.length === 0) segments.push(newSegment(join(dir, SEGMENTS), Math.max(1, cursor)));
      const last = segments.at(-1)!;
      const writer = await LineFile.open(last.path);
      if (writer.repairedBytes > 0) await reindex(last);
      return new JournalStore(dir, options.segmentBytes ?? DEFAULT_SEGMENT_BYTES, segments, Promise.resolve(writer), cursor, settled, release);
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** The number of the oldest line kept. */
  get first(): number {
    return this.#segments[0]!.first;
  }

  /** The number the next appended line will get (1 + the newest). */
  get next(): number {
    return this.#next;
  }

  /** Lines below this number are on disk (their fsync returned): readable. */
  get durable(): number {
    return this.#durable;
  }

  /** The first line not settled: where a handler resumes. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Lines appended and durable that are not settled. */
  get unsettled(): number {
    return this.#durable - this.#cursor - this.#settledAbove.size;
  }

  /** Bytes on disk of the segments, settled or not. */
  get bytes(): number {
    return this.#segments.reduce((n, s) => n + s.offsets.at(-1)!, 0);
  }

  /** Bytes of the lines not yet settled (at and above the cursor), on disk or being written. */
  get unsettledBytes(): number {
    let total = 0;
    for (const s of this.#segments) {
      const end = s.first + s.offsets.length - 1;
      if (end <= this.#cursor) continue;
      const from = Math.max(0, this.#cursor - s.first);
      total += s.offsets.at(-1)! - s.offsets[from]!;
    }
    return total;
  }

  /**
   * Appends one line (ending in `\n`); resolves with its number once it is on disk (fsynced).
   * A failed write fails every later append too: nothing after it is trusted.
   */
  append(line: string): Promise<number> {
    if (this.#closed) return Promise.reject(new Error('the journal is closed'));
    let active = this.#segments.at(-1)!;
    if (active.offsets.at(-1)! >= this.#segmentBytes) active = this.#roll();
    const n = this.#next++;
    active.offsets.push(active.offsets.at(-1)! + Buffer.byteLength(line));
    active.lastWrite = Date.now();
    return this.#writer.then((file) => file.append(line)).then(() => {
      // Lines are written in order, so this one and all before it are durable now.
      if (n + 1 > this.#durable) {
        this.#durable = n + 1;
        for (const listener of this.#onDurable) listener();
      }
      return n;
    });
  }

  /** Calls `listener` each time more lines are durable; returns the function that stops it. */
  onDurable(listener: () => void): () => void {
    this.#onDurable.add(listener);
    return () => void this.#onDurable.delete(listener);
  }

  /** Calls `listener` each time lines are settled; returns the function that stops it. */
  onSettled(listener: () => void): () => void {
    this.#onSettled.add(listener);
    return () => void this.#onSettled.delete(listener);
  }

  /** The line numbered `n` (with its `\n`), or `undefined` if it was pruned or is not durable yet. */
  async read(n: number): Promise<string | undefined> {
    if (n >= this.#durable) return undefined;
    const segment = this.#segmentOf(n);
    if (segment === undefined) return undefined;
    const i = n - segment.first;
    const start = segment.offsets[i]!;
    const length = segment.offsets[i + 1]! - start;
    segment.reader ??= await open(segment.path, constants.O_RDONLY);
    const buffer = Buffer.alloc(length);
    let read = 0;
    while (read < length) read += (await segment.reader.read(buffer, read, length - read, start + read)).bytesRead || fail(segment.path);
    return buffer.toString('utf8');
  }

  /**
   * Marks lines as settled (done with by the handler); resolves once the cursor on disk says so.
   * Calls made while a cursor write is under way share the next one.
   */
  settle(lines: readonly number[]): Promise<void> {
    for (const n of lines) if (n >= this.#cursor && n < this.#next) this.#settledAbove.add(n);
    this.#advance();
    for (const listener of this.#onSettled) listener();
    return this.#saveCursor();
  }

  /**
   * Writes the cursor after the write under way, if any: calls made while one waits share it (it
   * reads the cursor when it starts). A failed write fails every later one: nothing is trusted.
   */
  #saveCursor(): Promise<void> {
    if (this.#cursorQueued !== undefined) return this.#cursorQueued;
    const queued = this.#cursorWrite.then(() => {
      this.#cursorQueued = undefined;
      return writeCursor(this.dir, this.#cursor, [...this.#settledAbove].sort((a, b) => a - b));
    });
    this.#cursorQueued = queued;
    this.#cursorWrite = queued;
    return queued;
  }

  /** Whether line `n` is settled. */
  isSettled(n: number): boolean {
    return n < this.#cursor || this.#settledAbove.has(n);
  }

  /**
   * Deletes whole segments that are entirely settled and past `retention` (too old, or beyond
   * the size allowed), oldest first; the segment being written is never deleted. Returns the
   * number of lines deleted.
   */
  async prune(retention: Retention, now = Date.now()): Promise<number> {
    let deleted = 0;
    while (this.#segments.length > 1) {
      const oldest = this.#segments[0]!;
      const end = oldest.first + oldest.offsets.length - 1;
      if (end > this.#cursor) break; // holds lines not settled
      const tooOld = retention.maxAgeMs !== undefined && now - oldest.lastWrite > retention.maxAgeMs;
      const tooBig = retention.maxBytes !== undefined && this.bytes > retention.maxBytes;
      if (!tooOld && !tooBig) break;
      this.#segments.shift();
      await oldest.reader?.close();
      await unlink(oldest.path);
      deleted += end - oldest.first;
    }
    if (deleted > 0) await syncDirectory(join(this.dir, SEGMENTS));
    return deleted;
  }

  /** Writes what is pending, saves the cursor, closes the files and releases the directory. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await (await this.#writer).close();
      await this.#cursorWrite.catch(() => undefined);
      for (const s of this.#segments) await s.reader?.close();
    } finally {
      await this.#release();
    }
  }

  #advance(): void {
    while (this.#settledAbove.delete(this.#cursor)) this.#cursor++;
  }

  #segmentOf(n: number): Segment | undefined {
    for (let i = this.#segments.length - 1; i >= 0; i--) {
      const s = this.#segments[i]!;
      if (n >= s.first) return n < s.first + s.offsets.length - 1 ? s : undefined;
    }
    return undefined;
  }

  /** Closes the active segment (once its pending lines are written) and begins the next. */
  #roll(): Segment {
    const segment = newSegment(join(this.dir, SEGMENTS), this.#next);
    this.#segments.push(segment);
    // Appends to the new segment wait for its file, which waits for the old one's last write.
    this.#writer = this.#writer.then(async (previous) => {
      await previous.close();
      return LineFile.open(segment.path);
    });
    return segment;
  }
}

function fail(path: string): never {
  throw new Error(`${path} is shorter than its index: the journal was changed by something else`);
}

function newSegment(dir: string, first: number): Segment {
  return { first, path: join(dir, `${String(first).padStart(20, '0')}.jsonl`), offsets: [0], lastWrite: Date.now(), reader: undefined };
}

async function loadSegments(dir: string): Promise<Segment[]> {
  const names = (await readdir(dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
  const segments: Segment[] = [];
  for (const name of names) {
    const segment = newSegment(dir, Number(SEGMENT_NAME.exec(name)![1]));
    const info = await stat(segment.path);
    // A device or a pipe in its place would be read for ever (or blocks): refuse it.
    if (!info.isFile()) throw new Error(`${segment.path} is not a regular file: the journal was changed by something else`);
    segment.lastWrite = info.mtimeMs;
    await reindex(segment);
    segments.push(segment);
  }
  return segments;
}

/** Rebuilds a segment's line offsets from its file (complete lines only). */
async function reindex(segment: Segment): Promise<void> {
  const file = await open(segment.path, constants.O_RDONLY);
  try {
    segment.offsets.length = 0;
    segment.offsets.push(0);
    const chunk = Buffer.alloc(256 * 1024);
    let position = 0;
    for (;;) {
      const { bytesRead } = await file.read(chunk, 0, chunk.length, position);
      if (bytesRead === 0) break;
      for (let i = chunk.indexOf(0x0a); i >= 0 && i < bytesRead; i = chunk.indexOf(0x0a, i + 1)) segment.offsets.push(position + i + 1);
      position += bytesRead;
    }
  } finally {
    await file.close();
  }
}

async function readCursor(path: string): Promise<{ cursor: number; settled: number[] }> {
  try {
    const text = await readFile(path, 'utf8');
    const parsed = JSON.parse(text) as { cursor?: unknown; settled?: unknown };
    const cursor = typeof parsed.cursor === 'number' && Number.isSafeInteger(parsed.cursor) && parsed.cursor >= 1 ? parsed.cursor : 1;
    const settled = Array.isArray(parsed.settled) ? parsed.settled.filter((n): n is number => Number.isSafeInteger(n)) : [];
    return { cursor, settled };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { cursor: 1, settled: [] };
    throw error;
  }
}

/** Replaces the cursor file: a new file, fsynced, renamed over the old one, and the directory fsynced. */
async function writeCursor(dir: string, cursor: number, settled: readonly number[]): Promise<void> {
  const path = join(dir, CURSOR);
  const temporary = `${path}.${process.pid}.tmp`;
  const file = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    await file.writeFile(`${JSON.stringify({ cursor, settled })}\n`);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(temporary, path);
  await syncDirectory(dir);
}
