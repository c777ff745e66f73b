import { join } from 'node:path';
import type { DeadLetterSink } from './journal-link.js';
import { LineFile } from './line-file.js';
import { OutreachError } from '../errors/outreach-error.js';
import { replayLines } from './replay.js';

/** The file of a journal's dead letters, beside its segments. */
export const DEAD_LETTERS_FILE = 'dead-letters.jsonl';

/** Why and when a message was dead-lettered (the `deadLetter` field of its line). */
export interface DeadLetterInfo {
  /** When (ISO 8601). */
  readonly at: string;
  /** Why: the strategy's rejection text (`failed 5 attempts`, `undecodable message: not-json`). */
  readonly reason: string;
  /** Its line number in the journal. */
  readonly journalLine: number;
}

/**
 * @internal The institution's own dead letters: messages that failed for good (and undecodable
 * ones the strategy rejected), kept in the journal's directory as lines in pull's format with a
 * `deadLetter` field first (`{ at, reason, journalLine }`), never sent to the broker's DLQ. Each
 * is written and fsynced before the journal settles its line.
 */
export class DeadLetterStore implements DeadLetterSink {
  readonly path: string;
  readonly #file: LineFile;

  private constructor(path: string, file: LineFile) {
    this.path = path;
    this.#file = file;
  }

  static async open(dir: string): Promise<DeadLetterStore> {
    const path = join(dir, DEAD_LETTERS_FILE);
    return new DeadLetterStore(path, await LineFile.open(path));
  }

  add(line: string, number: number, reason: string): Promise<void> {
    const info: DeadLetterInfo = { at: new Date().toISOString(), reason, journalLine: number };
    return this.#file.append(`{"deadLetter":${JSON.stringify(info)},${line.slice(1)}`);
  }

  close(): Promise<void> {
    return this.#file.close();
  }
}

/** One of a journal's dead letters, as {@link listDeadLetters} gives it. */
export interface DeadLetter {
  /** The whole line (with its `\n`): the `deadLetter` field, then the message in `pull`'s line format. Holds student data. */
  readonly text: string;
  /** The AMQP message id (`null` if the message had none). */
  readonly messageId: string | number | null;
  /** Its outreach id, if it decoded. */
  readonly outreachId: string | undefined;
  /** When the consumer received it from the broker. */
  readonly receivedAt: Date;
  /** The dead-letters file, and the line's number there (from 1). */
  readonly file: string;
  /** Its line number in that file (from 1). */
  readonly line: number;
  /** Why and when it was dead-lettered. */
  readonly deadLetter: DeadLetterInfo;
}

/**
 * The dead letters of a journal directory (journal mode, docs/journal.md), oldest first, with why
 * each was kept. Reads only: safe while the consumer runs. None when there are none.
 *
 * @example
 * ```ts
 * for await (const d of listDeadLetters('/var/lib/outreach/journal')) console.log(d.messageId, d.deadLetter.reason);
 * ```
 * @throws {@link OutreachError} `INVALID_ARGUMENT` for a `dir` that is not a string
 */
export async function* listDeadLetters(dir: string): AsyncGenerator<DeadLetter> {
  if (typeof dir !== 'string' || dir === '') throw new OutreachError('INVALID_ARGUMENT', 'listDeadLetters: dir must be a journal directory');
  try {
    for await (const line of replayLines(join(dir, DEAD_LETTERS_FILE))) {
      const { deadLetter } = JSON.parse(line.text) as { deadLetter: DeadLetterInfo };
      yield { ...line, deadLetter };
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
