import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AckStrategy } from '../ack/strategy.js';
import type { OutreachHandler } from '../consumer/dispatcher.js';
import type { Outreach } from '../message/outreach.js';
import { UsageError } from './command.js';

/** What a handler module given to `--handler` exports. */
export interface HandlerModule {
  readonly handler: OutreachHandler<Outreach>;
  readonly strategy: AckStrategy<Outreach> | undefined;
}

/**
 * Loads the user's handler module (JavaScript, ES module or CommonJS): its default export or an
 * export named `handler` is the handler; an export named `strategy`, if any, its strategy.
 * @throws {@link UsageError} if it cannot be loaded or exports no handler
 */
export async function loadHandlerModule(path: string): Promise<HandlerModule> {
  let loaded: Record<string, unknown>;
  try {
    loaded = (await import(pathToFileURL(resolve(path)).href)) as Record<string, unknown>;
  } catch (error) {
    throw new UsageError(`--handler ${path}: cannot load it (${(error as Error).message})`);
  }
  // A CommonJS module's exports arrive as the default export.
  const exports = (typeof loaded.default === 'object' && loaded.default !== null ? loaded.default : loaded) as Record<string, unknown>;
  const handler = typeof loaded.default === 'function' ? loaded.default : (exports.handler ?? loaded.handler);
  if (typeof handler !== 'function') throw new UsageError(`--handler ${path}: export a function, as the default export or named handler`);
  const strategy = (exports.strategy ?? loaded.strategy) as AckStrategy<Outreach> | undefined;
  return { handler: handler as OutreachHandler<Outreach>, strategy };
}
