import { once } from 'node:events';
import { resolve } from 'node:path';
import { replayLines, ReplayLineError, type ReplayFilter } from '../../journal/replay.js';
import { isOutreachError } from '../../errors/outreach-error.js';
import { replay as replayInto } from '../../journal/replay-run.js';
import { UsageError, type CliCommand, type CliContext, type ParsedValues } from '../command.js';
import { loadHandlerModule } from '../handler-module.js';
import { EXIT } from '../exit-codes.js';

/** `replay`: a journal's or a `pull` archive's lines back on stdout (or into a handler), filtered; never touches the broker. */
export const replay: CliCommand = {
  name: 'replay',
  summary: 'print the lines of a journal or a pull archive (all, or by time, outreach id or source), or run them into your handler; no broker',
  help: `Usage: civitas-outreach replay (--journal DIR | --archive FILE) [--since ISO] [--until ISO]
                               [--outreach-id ID] [--source NAME] [--handler MODULE]

Reads a consumer's journal (journal mode, docs/journal.md) or a file that \`pull\` wrote and prints
its lines on stdout, in the order they were written and in the same line format (docs/cli.md),
so that they can be fed again to a sink that lost them or to a new one:
\`civitas-outreach replay --journal /var/lib/outreach/journal --since 2026-11-30 | your-loader\`.
With --handler, runs them instead into your handler module, through the same engine and strategy
as a live consumer, and prints what became of them on stderr. Connects to nothing and changes
nothing: a journal may be read while its consumer runs. An incomplete last line (a run killed
while writing it: its message was never accepted) is skipped.

Options:
  --journal DIR      a consumer's journal directory
  --archive FILE     the file \`pull --out\` wrote
  --handler MODULE   a JavaScript module whose default export (or export named handler) is your
                     handler, (delivery) => Promise<void>; an export named strategy, if any, is
                     its acknowledgement strategy
  --since ISO        only lines received at or after this time (ISO 8601: 2026-11-30 or
                     2026-11-30T08:00:00Z; a date alone is midnight UTC)
  --until ISO        only lines received before this time
  --outreach-id ID   only the outreach with this id
  --source NAME      only outreach whose outreachSource is NAME (Advisor, Faculty, Illume Students)

Exit codes: 0 done (with --handler: every line handled); 1 the file cannot be read or holds a
line that is not one of ours (replay stops there), or with --handler some lines failed; 2 a bad
command line or a handler module that cannot be loaded.`,
  options: {
    journal: { type: 'string' },
    handler: { type: 'string' },
    archive: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    'outreach-id': { type: 'string' },
    source: { type: 'string' },
  },
  async run(values, context) {
    const from = source(values);
    const filter: ReplayFilter = {
      since: instant(values.since, '--since'),
      until: instant(values.until, '--until'),
      outreachId: text(values['outreach-id']),
      source: text(values.source),
    };
    const path = resolve(from);
    if (typeof values.handler === 'string') return runIntoHandler(path, filter, values.handler, context);
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

/** `--journal DIR` or `--archive FILE`, one of them. */
function source(values: ParsedValues): string {
  const { journal, archive } = values;
  if (typeof journal === 'string' && typeof archive === 'string') throw new UsageError('give --journal DIR or --archive FILE, not both');
  const from = typeof journal === 'string' ? journal : archive;
  if (typeof from !== 'string' || from === '') throw new UsageError('missing --journal DIR (a consumer\'s journal) or --archive FILE (the file `pull --out` wrote)');
  return from;
}

/** `--handler`: the lines through the engine into the user's handler; a summary on stderr. */
async function runIntoHandler(from: string, filter: ReplayFilter, module: string, context: CliContext): Promise<number> {
  const { handler, strategy } = await loadHandlerModule(module);
  try {
    const report = await replayInto({
      from,
      handler,
      ...(strategy === undefined ? {} : { strategy }),
      ...(filter.since === undefined ? {} : { since: filter.since }),
      ...(filter.until === undefined ? {} : { until: filter.until }),
      ...(filter.outreachId === undefined ? {} : { outreachId: filter.outreachId }),
      ...(filter.source === undefined ? {} : { source: filter.source }),
      signal: context.interrupted,
    });
    for (const f of report.failed) context.stderr.write(`failed: ${f.file}:${f.line} message ${String(f.messageId)}: ${f.reason}\n`);
    for (const i of report.invalid) context.stderr.write(`undecodable: message ${String(i.messageId)} (${i.kind})\n`);
    context.stderr.write(
      `replayed ${report.selected} line(s) from ${from} into ${module}: ${report.handled} handled, ${report.failed.length} failed, ${report.invalid.length} undecodable, ${report.unfinished} unfinished\n`,
    );
    return report.failed.length === 0 && report.complete ? EXIT.ok : EXIT.failure;
  } catch (error) {
    if (isOutreachError(error) && error.code === 'INVALID_ARGUMENT') throw new UsageError(error.message);
    context.stderr.write(`replay: ${(error as Error).message}\n`);
    return EXIT.failure;
  }
}

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
