import type { InboundLink, WireOutcome, WireSettlement } from '../connection/transport.js';
import type { OutreachDelivery, SettleRecord, SettlementInbox } from '../delivery/delivery.js';

/** @internal What the settler needs of the consumer. */
export interface SettlerHost {
  /**
   * The final outcome of a request, decided once (a retry during an outage becomes `released`).
   * Deciding may begin an outage, whose hand-backs are records too: they queue behind this one.
   */
  decide(record: SettleRecord): WireOutcome;
  /**
   * A batch was written (`sent`) or found lost: counts, events, the in-flight table, credit, in
   * that order, once per batch.
   */
  settled(batch: readonly SettledDelivery[]): void;
}

/** @internal One delivery of a written batch. */
export interface SettledDelivery {
  readonly delivery: OutreachDelivery<unknown>;
  readonly outcome: WireOutcome;
  /** `false`: its link was gone before the outcome could be written (the broker delivers it again). */
  readonly sent: boolean;
}

interface Decided {
  readonly delivery: OutreachDelivery<unknown>;
  readonly settlement: WireSettlement;
}

/**
 * @internal Takes the settle records of one link in the order they were made, decides each final
 * outcome once, writes them to the link in that order, then hands the batch to its host.
 *
 * Acceptances wait for the end of the event loop's turn (`setImmediate`: the turn has read what
 * the socket held) and leave together, which lets the link write adjacent ones as one range; any
 * other outcome writes at once, with every acceptance decided before it ahead of it, so that
 * dispositions leave in the order decided. A record made while a batch is being decided or
 * handed over (an outage's hand-backs, a listener that settles) waits its turn in the inbox: no
 * settlement runs inside another.
 *
 * An outcome decided but not yet written when the link goes is never written: its delivery is
 * `lost`, and the broker delivers it again.
 */
export class Settler implements SettlementInbox {
  readonly #link: InboundLink;
  readonly #host: SettlerHost;
  /** Records not yet decided, in the order made. */
  #inbox: SettleRecord[] = [];
  /** Decided, not yet written, in the order decided. */
  #decided: Decided[] = [];
  /** Whether the records of this turn are being decided or a batch handed over: new ones queue. */
  #busy = false;
  #scheduled = false;

  constructor(link: InboundLink, host: SettlerHost) {
    this.#link = link;
    this.#host = host;
  }

  /** The link this settler writes to. */
  get link(): InboundLink {
    return this.#link;
  }

  get alive(): boolean {
    return this.#link.state === 'open';
  }

  /** Outcomes decided and not yet written (acceptances waiting for the end of the turn). */
  get pending(): number {
    return this.#decided.length;
  }

  record(record: SettleRecord): void {
    this.#inbox.push(record);
    this.#run(false);
  }

  /** Writes everything decided now (before the link is closed). */
  flush(): void {
    this.#run(true);
  }

  /** Runs `work` (which may make many records) and writes what it decided as one batch. */
  batch(work: () => void): void {
    if (this.#busy) return work();
    this.#busy = true;
    try {
      work();
    } finally {
      this.#busy = false;
    }
    this.#run(false);
  }

  #run(writeAll: boolean): void {
    if (this.#busy) return;
    this.#busy = true;
    try {
      let write = writeAll;
      while (this.#inbox.length > 0 || (write && this.#decided.length > 0)) {
        for (let record = this.#inbox.shift(); record !== undefined; record = this.#inbox.shift()) {
          const outcome = this.#host.decide(record);
          this.#decided.push({ delivery: record.delivery, settlement: { token: record.delivery.token, outcome, reason: record.reason } });
          // Anything but an acceptance leaves at once; so does whatever a dead link cannot write.
          if (outcome !== 'accepted' || !this.alive) write = true;
        }
        if (write) {
          this.#write();
          write = writeAll;
        }
      }
    } finally {
      this.#busy = false;
    }
    if (this.#decided.length > 0 && !this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.#run(true);
      });
    }
  }

  #write(): void {
    const decided = this.#decided;
    this.#decided = [];
    const sent = this.alive;
    const toWrite: WireSettlement[] = [];
    const batch: SettledDelivery[] = [];
    for (const { delivery, settlement } of decided) {
      // One lost meanwhile (its link went and came back) is never written.
      const writes = sent && delivery.state.kind === 'requested';
      if (writes) toWrite.push(settlement);
      batch.push({ delivery, outcome: settlement.outcome, sent: writes });
    }
    if (toWrite.length > 0) this.#link.settle(toWrite);
    for (const { delivery, outcome, sent: written } of batch) {
      if (written) delivery.markSettled(outcome);
      else delivery.markLost();
    }
    this.#host.settled(batch);
  }
}
