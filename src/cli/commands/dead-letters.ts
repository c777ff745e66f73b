import { once } from 'node:events';
import { resolve } from 'node:path';
import { isOutreachError } from '../../errors/outreach-error.js';
import { listDeadLetters } from '../../journal/dead-letters.js';
import { redriveDeadLetters } from '../../journal/redrive.js';
import { UsageError, type CliCommand } from '../command.js';
import { failureFor, EXIT } from '../exit-codes.js';
import { loadHandlerModule } from '../handler-module.js';

/** `dead-letters`: a journal's own dead letters listed, or re-driven through the user's handler. */
export const deadLetters: CliCommand = {
  name: 'dead-letters',
  summary: "list a journal's dead letters, or re-drive them through your handler; no broker",
  help: `Usage: civitas-outreach dead-letters --journal DIR [--full]
       civitas-outreach dead-letters --journal DIR --redrive --handler MODULE [--message-id ID]

In journal mode (docs/journal.md) what fails for good is kept in the journal's dead letters,
never in the broker's dead-letter queue. Without --redrive, prints one JSON line per dead letter
on stdout, oldest first: its messageId, outreachId, when it was dead-lettered (at), why (reason)
and its line in the journal; with --full, the whole line, message included (student data).
Reading is safe while the consumer runs.

With --redrive, runs them (all, or the one with --message-id) through your handler module,
through the same engine and strategy as a live consumer: those it handles leave the dead letters,
those that fail again stay with the new reason. It takes the journal's lock: stop the consumer
that owns the directory first. Prints what became of them on stderr.

Options:
  --journal DIR      the consumer's journal directory
  --full             print whole lines, not a summary
  --redrive          run them through --handler
  --handler MODULE   a JavaScript module whose default export (or export named handler) is your
                     handler, (delivery) => Promise<void>; an export named strategy, if any, is
                     its acknowledgement strategy
  --message-id ID    only the dead letter of this message id

Exit codes: 0 done (with --redrive: every one handled); 1 some failed again, or the dead letters
cannot be read; 2 a bad command line or a handler module that cannot be loaded; 7 the journal is
held by a running consumer (JOURNAL_IN_USE).`,
  options: {
    journal: { type: 'string' },
    full: { type: 'boolean' },
    redrive: { type: 'boolean' },
    handler: { type: 'string' },
    'message-id': { type: 'string' },
  },
  async run(values, context) {
    const journal = values.journal;
    if (typeof journal !== 'string' || journal === '') throw new UsageError("missing --journal DIR: the consumer's journal directory");
    const dir = resolve(journal);
    const messageId = typeof values['message-id'] === 'string' ? values['message-id'] : undefined;
    if (values.redrive !== true) {
      if (values.handler !== undefined) throw new UsageError('--handler goes with --redrive');
      let count = 0;
      try {
        for await (const d of listDeadLetters(dir)) {
          if (messageId !== undefined && String(d.messageId) !== messageId) continue;
          count++;
          const { at, reason, journalLine } = d.deadLetter;
          const out = values.full === true ? d.text : `${JSON.stringify({ messageId: d.messageId, outreachId: d.outreachId ?? null, at, reason, journalLine })}\n`;
          if (!context.stdout.write(out)) await once(context.stdout, 'drain');
        }
      } catch (error) {
        context.stderr.write(`dead-letters: ${(error as Error).message}\n`);
        return EXIT.failure;
      }
      context.stderr.write(`${count} dead letter(s) in ${dir}\n`);
      return EXIT.ok;
    }
    if (typeof values.handler !== 'string') throw new UsageError('--redrive needs --handler MODULE: your handler');
    const { handler, strategy } = await loadHandlerModule(values.handler);
    try {
      const report = await redriveDeadLetters({
        dir,
        handler,
        ...(strategy === undefined ? {} : { strategy }),
        ...(messageId === undefined ? {} : { messageId }),
        signal: context.interrupted,
      });
      for (const f of report.failed) context.stderr.write(`failed again: message ${String(f.messageId)}: ${f.reason}\n`);
      context.stderr.write(`re-drove ${report.selected} dead letter(s): ${report.redriven} handled and removed, ${report.failed.length} kept, ${report.unfinished} unfinished\n`);
      return report.failed.length === 0 && report.complete ? EXIT.ok : EXIT.failure;
    } catch (error) {
      if (!isOutreachError(error)) throw error;
      if (error.code === 'INVALID_ARGUMENT') throw new UsageError(error.message);
      const failure = failureFor(error.code);
      context.stderr.write(`${error.code}: ${error.message} — ${failure.fix}\n`);
      return failure.exitCode;
    }
  },
};
