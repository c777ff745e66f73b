import { constants } from 'node:fs';
import { access, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** How long appends wait for company before one write and one fsync cover them all. */
const GROUP_COMMIT_MS = 5;
/** How far back to look for the last newline at a time. */
const TAIL_CHUNK = 64 * 1024;

/**
 * An append-only file of lines where {@link LineFile.append} resolves only once the line is
 * written AND fsynced: a caller that accepts a message after it can lose nothing to a crash.
 * Appends that arrive together share one write and one fsync (group commit).
 *
 * @remarks A run killed in the middle of a write can leave an incomplete last line. Its message
 * was not accepted (its fsync never returned), so the broker delivers it again: {@link LineFile.open}
 * cuts that partial line off before appending, and reports how many bytes it cut.
 */
export class LineFile {
  readonly path: string;
  /** Bytes of an incomplete last line cut off by `open`, 0 if none. */
  readonly repairedBytes: number;
  #file: FileHandle;
  #pending: { text: string; resolve: () => void; reject: (error: unknown) => void }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #flushing: Promise<void> = Promise.resolve();
  #failed: unknown;
  #lines = 0;

  private constructor(path: string, file: FileHandle, repairedBytes: number) {
    this.path = path;
    this.#file = file;
    this.repairedBytes = repairedBytes;
  }

  /**
   * Opens (creates) `path` for appending; cuts off an incomplete last line left by a killed run.
   * @param openFile - how to open it (`fs.promises.open`)
   */
  static async open(path: string, openFile: typeof open = open): Promise<LineFile> {
    const existing = await LineFile.openExisting(path, openFile);
    if (existing !== undefined) return existing;
    const file = await openFile(path, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL, 0o600);
    try {
      await syncDirectory(dirname(path));
      return new LineFile(path, file, 0);
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /**
   * Opens `path` for appending if it exists, cutting off an incomplete last line left by a killed
   * run; `undefined` when there is no such file. A caller that must not leave an empty file behind
   * (a run that never connected) checks with {@link LineFile.assertCreatable} first and creates it
   * with {@link LineFile.open} once there is something to write.
   */
  static async openExisting(path: string, openFile: typeof open = open): Promise<LineFile | undefined> {
    let file: FileHandle;
    try {
      file = await openFile(path, constants.O_RDWR | constants.O_APPEND);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      return new LineFile(path, file, await cutPartialLine(file, path));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Throws (with the `errno` code) unless `path`'s directory exists and this process may create a file in it. */
  static async assertCreatable(path: string): Promise<void> {
    const dir = dirname(path);
    if (!(await stat(dir)).isDirectory()) throw Object.assign(new Error(`${dir} is not a directory`), { code: 'ENOTDIR' });
    await access(dir, constants.W_OK | constants.X_OK);
  }

  /** Lines written and fsynced by this process. */
  get lines(): number {
    return this.#lines;
  }

  /** Appends one line (it must end in `\n`); resolves once it is on disk (fsynced). */
  append(line: string): Promise<void> {
    if (this.#failed !== undefined) return Promise.reject(this.#failed);
    return new Promise<void>((resolve, reject) => {
      this.#pending.push({ text: line, resolve, reject });
      this.#timer ??= setTimeout(() => {
        this.#timer = undefined;
        this.#flushing = this.#flushing.then(() => this.#flush());
      }, GROUP_COMMIT_MS);
    });
  }

  async #flush(): Promise<void> {
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      if (this.#failed !== undefined) throw this.#failed;
      const bytes = Buffer.from(batch.map((p) => p.text).join(''), 'utf8');
      let written = 0;
      while (written < bytes.length) written += (await this.#file.write(bytes, written, bytes.length - written)).bytesWritten;
      await this.#file.sync();
      this.#lines += batch.length;
      for (const p of batch) p.resolve();
    } catch (error) {
      // Whatever part of this write reached the file is not trusted: no message of it is accepted.
      this.#failed ??= error;
      for (const p of batch) p.reject(error);
    }
  }

  /** Writes what is pending, then closes the file. */
  async close(): Promise<void> {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushing = this.#flushing.then(() => this.#flush());
    await this.#flushing;
    await this.#file.close();
  }
}

/** Every line this program writes starts so (see line.ts; a dead letter's line, dead-letters.ts). */
const LINE_STARTS = [Buffer.from('{"messageId":'), Buffer.from('{"deadLetter":')];

/**
 * Cuts an incomplete last line, if it is one of ours (it starts as our lines do); a file that
 * ends otherwise is someone else's, and is refused rather than changed.
 */
async function cutPartialLine(file: FileHandle, path: string): Promise<number> {
  const { size } = await file.stat();
  let end = size;
  let keep = 0;
  const buffer = Buffer.alloc(TAIL_CHUNK);
  while (end > 0) {
    const start = Math.max(0, end - TAIL_CHUNK);
    const { bytesRead } = await file.read(buffer, 0, end - start, start);
    const newline = buffer.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (newline >= 0) {
      keep = start + newline + 1;
      break;
    }
    end = start;
  }
  if (keep === size) return 0;
  const head = Buffer.alloc(Math.min(Math.max(...LINE_STARTS.map((s) => s.length)), size - keep));
  await file.read(head, 0, head.length, keep);
  if (!LINE_STARTS.some((start) => start.subarray(0, head.length).equals(head.subarray(0, Math.min(head.length, start.length))))) {
    throw new LineFileError(`${path} does not end with a newline and its last line was not written by civitas-outreach: choose another --out file`);
  }
  await file.truncate(keep);
  await file.sync();
  return size - keep;
}

/** The output file cannot be used as it is. */
export class LineFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LineFileError';
  }
}

/** @internal Makes a new file's directory entry durable too (best effort: not every file system allows it). */
export async function syncDirectory(path: string): Promise<void> {
  try {
    const dir = await open(path, constants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // e.g. EISDIR/EINVAL on some platforms
  }
}
