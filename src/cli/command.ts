import type { open } from 'node:fs/promises';
import type { ParseArgsConfig } from 'node:util';

/** What a command may touch of the outside world: given by `main.ts`, so that a command has no hidden globals. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadStream;
  readonly stdout: NodeJS.WriteStream;
  readonly stderr: NodeJS.WriteStream;
  /** Fires on the first SIGINT or SIGTERM. */
  readonly interrupted: AbortSignal;
  /** How a command opens the files it writes (`fs.promises.open` if not given; a test can watch its writes and fsyncs). */
  readonly openFile?: typeof open;
}

/** The values `util.parseArgs` returns for a command's options. */
export type ParsedValues = Record<string, string | boolean | undefined>;

/**
 * One command of the `civitas-outreach` command line. Adding a command is one file that exports
 * one of these, and one line in the table of `main.ts`.
 */
export interface CliCommand {
  /** The word typed after `civitas-outreach`. */
  readonly name: string;
  /** One line for the command list. */
  readonly summary: string;
  /** The whole `--help` text (without a trailing newline). */
  readonly help: string;
  /** Its options for `util.parseArgs` (`--help` is added by `main.ts`). */
  readonly options: NonNullable<ParseArgsConfig['options']>;
  /**
   * Whether it stops gracefully on SIGINT/SIGTERM (through `context.interrupted`); otherwise the
   * signals end the process as usual.
   */
  readonly graceful?: boolean;
  /** Runs it; resolves with the process exit code. Throws {@link UsageError} for a bad command line. */
  run(values: ParsedValues, context: CliContext): Promise<number>;
}

/** A mistake in the command line or the settings: printed with a pointer to `--help`, exit code 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** Reads a whole positive integer flag such as `--limit`. */
export function positiveInteger(value: string | boolean | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`${flag} must be a whole number of at least 1, got ${JSON.stringify(value)}`);
  return n;
}
