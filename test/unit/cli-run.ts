// Runs one command of the command line in the test's process, as main.ts does, with its output kept.
import type { CliCommand, CliContext } from '../../src/cli/command.js';

export interface Ran {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** A sink standing in for the terminal's stdout or stderr (not a TTY). */
function sink(): { stream: NodeJS.WriteStream; text: () => string } {
  let text = '';
  const stream = { isTTY: false, write: (chunk: string) => ((text += chunk), true) } as unknown as NodeJS.WriteStream;
  return { stream, text: () => text };
}

/** Runs one command as main.ts does, with `env` as the environment; `stop` aborts it as SIGINT would. */
export async function run(command: CliCommand, values: Record<string, string | boolean>, env: NodeJS.ProcessEnv, stop?: AbortSignal, openFile?: CliContext['openFile']): Promise<Ran> {
  const stdout = sink();
  const stderr = sink();
  const context: CliContext = {
    env,
    stdin: { isTTY: false } as NodeJS.ReadStream,
    stdout: stdout.stream,
    stderr: stderr.stream,
    interrupted: stop ?? new AbortController().signal,
    ...(openFile === undefined ? {} : { openFile }),
  };
  const code = await command.run(values, context);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
