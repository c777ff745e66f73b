#!/usr/bin/env node
// The `civitas-outreach` command line. Not part of the library's API (src/index.ts): built by
// tsup into dist/cli.js, the package's `bin`. Usage and exit codes: docs/cli.md.
import { parseArgs } from 'node:util';
import { UsageError, type CliCommand, type CliContext } from './command.js';
import { check } from './commands/check.js';
import { demo } from './commands/demo.js';
import { devQueue } from './commands/dev-queue.js';
import { peek } from './commands/peek.js';
import { pull } from './commands/pull.js';
import { replay } from './commands/replay.js';
import { deadLetters } from './commands/dead-letters.js';
import { EXIT } from './exit-codes.js';
import { guidePath, RUN } from './guide.js';
import { reportFailure } from './report.js';
import { refusePasswordFlag } from './settings.js';

/** Every command: adding one is its own file and one line here. */
const COMMANDS: readonly CliCommand[] = [demo, devQueue, pull, peek, check, replay, deadLetters];

const PROGRAM = 'civitas-outreach';

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  const guide = guidePath('cli.md');
  return `Usage: ${PROGRAM} <command> [options]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Settings come from CIVITAS_URL, CIVITAS_USERNAME, CIVITAS_PASSWORD, CIVITAS_QUEUE and CIVITAS_CA,
or flags of the same names (--url, --username, --queue, --ca); the password never from a flag.
Run \`${RUN} <command> --help\` for a command's options and exit codes.${guide === undefined ? '' : `\nThe guide: ${guide}`}`;
}

/** Runs one command line; resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], makeContext: (graceful: boolean) => CliContext): Promise<number> {
  const [name, ...rest] = argv;
  const command = COMMANDS.find((c) => c.name === name);
  const context = makeContext(command?.graceful === true);
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    (name === undefined ? context.stderr : context.stdout).write(`${mainHelp()}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (command === undefined) {
    context.stderr.write(`${PROGRAM}: unknown command ${JSON.stringify(name)}; commands: ${COMMANDS.map((c) => c.name).join(', ')} (see ${PROGRAM} --help)\n`);
    return EXIT.usage;
  }
  try {
    refusePasswordFlag(rest);
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...command.options, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
    if (values.help === true) {
      context.stdout.write(`${command.help}\n`);
      return EXIT.ok;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    return await command.run(values, context);
  } catch (error) {
    if (error instanceof UsageError || isParseArgsError(error)) {
      // parseArgs goes on about positionals after `--`; the first sentence is what matters here.
      const message = (error as Error).message.replace(/\. To specify a positional argument[\s\S]*$/, '');
      context.stderr.write(`${PROGRAM} ${command.name}: ${message} (see ${PROGRAM} ${command.name} --help)\n`);
      return EXIT.usage;
    }
    return reportFailure(error, context);
  }
}

function isParseArgsError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

function nodeContext(graceful: boolean): CliContext {
  const interrupt = new AbortController();
  const context = { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, interrupted: interrupt.signal };
  if (!graceful) return context;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      process.stderr.write(`\n${signal}: finishing the messages in hand, then closing (again to quit at once)\n`);
      interrupt.abort();
    } else {
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return context;
}

// `peek | head`: the reader went away; nothing more to say to it.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(0);
  throw error;
});
const code = await runCli(process.argv.slice(2), nodeContext);
process.exitCode = code;
// Everything is closed by now; should a stray handle keep the process alive, end it anyway (an
// unref'd timer does not keep it alive by itself).
setTimeout(() => process.exit(code), 5_000).unref();
