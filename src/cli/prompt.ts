import type { CliContext } from './command.js';
import { UsageError } from './command.js';

/**
 * Asks for a line on the terminal without echoing it (the prompt goes to stderr, so stdout stays
 * clean for JSON lines). Ctrl-C or Ctrl-D ends it with a {@link UsageError}.
 */
export function promptHidden(question: string, context: CliContext): Promise<string> {
  const { stdin, stderr } = context;
  return new Promise<string>((resolve, reject) => {
    let typed = '';
    const wasRaw = stdin.isRaw;
    const finish = (error?: Error): void => {
      stdin.off('data', onData);
      stdin.setRawMode(wasRaw);
      stdin.pause();
      stderr.write('\n');
      if (error === undefined) resolve(typed);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      for (const char of chunk.toString('utf8')) {
        if (char === '\r' || char === '\n') return finish();
        if (char === '\u0003' || char === '\u0004') return finish(new UsageError('password prompt cancelled'));
        if (char === '\u007f' || char === '\b') typed = typed.slice(0, -1);
        else if (char >= ' ') typed += char;
      }
    };
    // Echo off before the prompt shows: what is typed (or pasted) right after it must not echo.
    stdin.setRawMode(true);
    stdin.on('data', onData);
    stdin.resume();
    stderr.write(question);
  });
}
