import { once } from 'node:events';
import { resolve } from 'node:path';
import { replayLines, ReplayLineError, type ReplayFilter } from '../../journal/replay.js';
import { UsageError, type CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';

/** `replay`: a `pull` archive's lines back on stdout, filtered; never touches the broker. */
export const replay: CliCommand = {
  name: 'replay',
  summary: "print the lines of a pull archive (all, or by time, outreach id or source); no broker",
  help: `Usage: civitas-outreach replay --archive FILE [--since ISO] [--until ISO] [--outreach-id ID] [--source NAME]

Reads a file that \`pull\` wrote and prints its lines on stdout, in the order they were written and
in the same line format (docs/cli.md), so that they can be fed again to a sink that lost them or
to a new one: \`civitas-outreach replay --archive outreach.jsonl --since 2026-11-30 | your-loader\`.
Connects to nothing and changes nothing. An incomplete last line (a run killed while writing it:
its message was never accepted) is skipped. Prints how many lines it replayed on stderr.

Options:
  --archive FILE     the file \`pull --out\` wrote
  --since ISO        only lines received at or after this time (ISO 8601: 2026-11-30 or
                     2026-11-30T08:00:00Z; a date alone is midnight UTC)
  --until ISO        only lines received before this time
  --outreach-id ID   only the outreach with this id
  --source NAME      only outreach whose outreachSource is NAME (Advisor, Faculty, Illume Students)

Exit codes: 0 done; 1 the file cannot be read or holds a line that is not one of ours (replay
stops there); 2 a bad command line.`,
  options: {
    archive: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    'outreach-id': { type: 'string' },
    source: { type: 'string' },
  },
  async run(values, context) {
    const archive = values.archive;
    if (typeof archive !== 'string' || archive === '') throw new UsageError('missing --archive FILE: the file `pull --out` wrote');
    const filter: ReplayFilter = {
      since: instant(values.since, '--since'),
      until: instant(values.until, '--until'),
      outreachId: text(values['outreach-id']),
      source: text(values.source),
    };
    const path = resolve(archive);
    let count = 0;
    try {
      for await (const line of replayLines(path, filter)) {
        count++;
        if (!context.stdout.write(line.text)) await once(context.stdout, 'drain');
      }
    } catch (error) {
      const why = error instanceof ReplayLineError ? error.message : `${path}: ${(error as Error).message}`;
      context.stderr.write(`replay: ${why}; ${count} line(s) printed before it\n`);
      return EXIT.failure;
    }
    context.stderr.write(`replayed ${count} line(s) from ${path}\n`);
    return EXIT.ok;
  },
};

function text(value: string | boolean | undefined): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** An ISO 8601 date or date-time (a date alone is midnight UTC). */
function instant(value: string | boolean | undefined, flag: string): Date | undefined {
  if (value === undefined) return undefined;
  const at = typeof value === 'string' && /^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:?\d{2}))?$/.test(value) ? new Date(value) : new Date(Number.NaN);
  if (Number.isNaN(at.getTime())) throw new UsageError(`${flag} must be an ISO 8601 date or time such as 2026-11-30 or 2026-11-30T08:00:00Z, got ${JSON.stringify(value)}`);
  return at;
}
