import { OutreachError } from '../errors/outreach-error.js';
import { MAX_TIMER_MS } from '../timers.js';
import { DEFAULT_SEGMENT_BYTES } from './journal-store.js';

/**
 * Journal mode of {@link OutreachConsumer} (`docs/journal.md`): every message is written to a
 * local journal and fsynced before it is accepted on the broker, and your code reads from the
 * journal. The outreach you handled stay on disk for {@link replay}; those that fail for good go
 * to the journal's own dead letters ({@link listDeadLetters}, {@link redriveDeadLetters}), never
 * to the broker's DLQ.
 */
export interface JournalOptions {
  /**
   * The journal's directory, created (mode 0700) if missing. One consumer at a time may hold it:
   * another gets `JOURNAL_IN_USE`. It holds student data: see docs/journal.md on protecting it.
   */
  readonly dir: string;
  /**
   * Bytes of outreach taken from the broker and not yet settled by your code at which the journal
   * is full: it takes nothing more from the broker (which keeps the rest) until your code catches
   * up. The `journalFull` event and `health().journal.full` say so. Nothing unsettled is ever deleted.
   * @defaultValue 1 GiB
   */
  readonly maxUnhandledBytes?: number;
  /**
   * How long outreach your code has settled are kept, for {@link replay}.
   * @defaultValue 7 days
   */
  readonly keepHandledMs?: number;
  /**
   * How many bytes of settled outreach are kept at most, for {@link replay} (the oldest go first).
   * @defaultValue 1 GiB
   */
  readonly keepHandledBytes?: number;
  /**
   * Messages taken from the broker and not yet on disk, at most (the broker's credit). Lines
   * written together share one write and one fsync.
   * @defaultValue 100
   */
  readonly window?: number;
}

/** The journal part of {@link ConsumerHealth}. */
export interface JournalHealth {
  /** The journal's directory. */
  readonly dir: string;
  /** Whether the journal is full: nothing is taken from the broker until your code settles more. */
  readonly full: boolean;
  /** Lines taken from the broker and not yet settled by your code. */
  readonly unhandled: number;
  /** Their bytes; the journal is full at `maxUnhandledBytes`. */
  readonly unhandledBytes: number;
  /** The `journal.maxUnhandledBytes` in force. */
  readonly maxUnhandledBytes: number;
  /** Bytes of the journal on disk, settled lines kept for replay included. */
  readonly bytes: number;
}

/** What the `journalFull` event tells: the journal became full, or has room again. */
export interface JournalFullInfo {
  /** `true`: the journal became full; `false`: it has room again. */
  readonly full: boolean;
  /** Bytes of the lines not yet settled by your code, now. */
  readonly unhandledBytes: number;
  /** The `journal.maxUnhandledBytes` in force. */
  readonly maxUnhandledBytes: number;
}

/** @internal {@link JournalOptions} checked, with the defaults filled in. */
export interface JournalSettings {
  readonly dir: string;
  readonly maxUnhandledBytes: number;
  readonly keepHandledMs: number;
  readonly keepHandledBytes: number;
  readonly window: number;
  readonly segmentBytes: number;
}

const GIB = 1024 ** 3;
/** @internal */
export const JOURNAL_DEFAULTS = {
  maxUnhandledBytes: GIB,
  keepHandledMs: 7 * 24 * 3_600_000,
  keepHandledBytes: GIB,
  window: 100,
} as const;

/**
 * @internal Checks `journal` and fills in its defaults.
 * @throws {@link OutreachError} `INVALID_ARGUMENT` naming the option
 */
export function resolveJournal(journal: JournalOptions | undefined): JournalSettings | undefined {
  if (journal === undefined) return undefined;
  if (journal === null || typeof journal !== 'object') throw new OutreachError('INVALID_ARGUMENT', 'journal must be an object with a dir');
  if (typeof journal.dir !== 'string' || journal.dir.length === 0) throw new OutreachError('INVALID_ARGUMENT', 'journal.dir must be a non-empty string');
  const bytes = (name: keyof typeof JOURNAL_DEFAULTS, min: number, max: number): number => {
    const value = journal[name];
    if (value === undefined) return JOURNAL_DEFAULTS[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new OutreachError('INVALID_ARGUMENT', `journal.${name} must be an integer from ${min} to ${max}`);
    }
    return value;
  };
  const maxUnhandledBytes = bytes('maxUnhandledBytes', 1, Number.MAX_SAFE_INTEGER);
  return {
    dir: journal.dir,
    maxUnhandledBytes,
    keepHandledMs: bytes('keepHandledMs', 0, Number.MAX_SAFE_INTEGER),
    keepHandledBytes: bytes('keepHandledBytes', 0, Number.MAX_SAFE_INTEGER),
    window: bytes('window', 1, 100_000),
    // Small journals roll small segments, so that retention can delete what is settled.
    segmentBytes: Math.max(64 * 1024, Math.min(DEFAULT_SEGMENT_BYTES, Math.floor(maxUnhandledBytes / 4))),
  };
}

/** @internal How often settled segments past the retention are deleted. */
export const PRUNE_INTERVAL_MS = Math.min(60_000, MAX_TIMER_MS);
