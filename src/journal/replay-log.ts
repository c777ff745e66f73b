import type { LineLog } from './journal-link.js';
import type { ReplayedLine } from './replay.js';

/**
 * @internal A {@link LineLog} over lines read once from a file (`replayLines()`: a pull archive,
 * a journal's segments, the dead letters), numbered from 1 in the order read. It reads ahead
 * lazily: only lines not yet settled are kept, at most `limit` of them (the link's prefetch plus
 * a read-ahead), and the next are read as lines are settled. Settling records nothing on disk:
 * the lines are forgotten. {@link ReplayLog.exhausted} resolves once every line was read.
 */
export class ReplayLog implements LineLog {
  readonly dir: string;
  readonly #lines: AsyncIterator<ReplayedLine>;
  readonly #limit: number;
  /** Lines read and not settled, by number. */
  readonly #held = new Map<number, ReplayedLine>();
  readonly #onDurable = new Set<() => void>();
  #next = 1;
  #cursor = 1;
  #reading = false;
  #done = false;
  #failure: unknown;
  readonly #waiting = new Set<() => void>();

  constructor(label: string, lines: AsyncIterable<ReplayedLine>, limit: number) {
    this.dir = label;
    this.#lines = lines[Symbol.asyncIterator]();
    this.#limit = limit;
    void this.#readAhead();
  }

  get cursor(): number {
    return this.#cursor;
  }

  get durable(): number {
    return this.#next;
  }

  /** Lines read and not settled. */
  get unsettled(): number {
    return this.#held.size;
  }

  /** Lines read so far. */
  get lines(): number {
    return this.#next - 1;
  }

  /** Whether every line was read and every one settled. */
  get finished(): boolean {
    return this.#done && this.#held.size === 0;
  }

  /** Why reading stopped early (a damaged line, a file that cannot be read), if it did. */
  get failure(): unknown {
    return this.#failure;
  }

  /** The line numbered `n`, as read, while it is not settled. */
  line(n: number): ReplayedLine | undefined {
    return this.#held.get(n);
  }

  read(n: number): Promise<string | undefined> {
    return Promise.resolve(this.#held.get(n)?.text);
  }

  isSettled(n: number): boolean {
    return n < this.#next && !this.#held.has(n);
  }

  settle(lines: readonly number[]): Promise<void> {
    for (const n of lines) this.#held.delete(n);
    while (this.#cursor < this.#next && !this.#held.has(this.#cursor)) this.#cursor++;
    this.#wake();
    void this.#readAhead();
    return Promise.resolve();
  }

  onDurable(listener: () => void): () => void {
    this.#onDurable.add(listener);
    return () => void this.#onDurable.delete(listener);
  }

  /**
   * Resolves when there is a line not yet handed out to read (`false`) or none will ever come
   * (`true`): a journal link's `upstreamDry`.
   */
  async dry(): Promise<boolean> {
    const from = this.#next;
    while (!this.#done && this.#next === from) await new Promise<void>((resolve) => this.#waiting.add(resolve));
    return this.#done && this.#next === from;
  }

  /** Resolves once every line was read and settled (or reading failed and what was read is settled). */
  async whenFinished(): Promise<void> {
    while (!this.finished) await new Promise<void>((resolve) => this.#waiting.add(resolve));
  }

  /** Stops reading (closes the file). */
  async stop(): Promise<void> {
    this.#done = true;
    this.#wake();
    await this.#lines.return?.();
  }

  async #readAhead(): Promise<void> {
    if (this.#reading) return;
    this.#reading = true;
    try {
      while (!this.#done && this.#held.size < this.#limit) {
        const next = await this.#lines.next();
        if (next.done === true) {
          this.#done = true;
          break;
        }
        this.#held.set(this.#next++, next.value);
        for (const listener of this.#onDurable) listener();
        this.#wake();
      }
    } catch (error) {
      this.#failure = error;
      this.#done = true;
    } finally {
      this.#reading = false;
      this.#wake();
    }
  }

  #wake(): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const resolve of waiting) resolve();
  }
}
