import type { Outreach } from '../message/outreach.js';

/** The label a valueId was last seen with. */
export interface ValueIdLabel {
  /** The property name, e.g. `outreachReason`. */
  readonly name: string;
  /** The value text, e.g. `Bad GPA`. */
  readonly value: string;
}

/** A valueId seen with a label other than the one it had before. */
export interface LabelDrift {
  /** The stable id whose label changed. */
  readonly valueId: string;
  /** The label it had. */
  readonly previous: ValueIdLabel;
  /** The label it has now. */
  readonly current: ValueIdLabel;
  /** The outreach in which the new label was first seen. */
  readonly outreachId: string;
}

/** Options of {@link LabelDriftDetector}. */
export interface LabelDriftDetectorOptions {
  /**
   * Labels already known, e.g. loaded from your database with {@link LabelDriftDetector.labels}
   * saved by an earlier run. Without it, the first label seen for each valueId is the reference.
   * @defaultValue none
   */
  readonly known?: Iterable<readonly [valueId: string, label: ValueIdLabel]>;
  /** Called once for each drift found by {@link LabelDriftDetector.observe}. @defaultValue none */
  readonly onDrift?: (drift: LabelDrift) => void;
}

/**
 * Notices when Civitas renames a label: the same valueId arriving with a new name or value.
 *
 * @remarks
 * The spec's example: "Bad GPA" renamed "GPA below threshold" keeps valueId `123456`. Integrations
 * keyed on labels break silently then; this reports it so an integration owner learns of it. Each
 * change is reported once; the new label becomes the reference. Memory grows with the number of
 * distinct valueIds (a catalogue of labels, typically hundreds). Pure: no I/O.
 *
 * @example
 * ```ts
 * const drift = new LabelDriftDetector({ onDrift: (d) => log.warn(d, 'Civitas renamed a label') });
 * for await (const delivery of consumer) {
 *   drift.observe(delivery.outreach);
 *   …
 * }
 * ```
 */
export class LabelDriftDetector {
  readonly #labels = new Map<string, ValueIdLabel>();
  readonly #onDrift: ((drift: LabelDrift) => void) | undefined;

  /** @param options - known labels and a drift callback */
  constructor(options: LabelDriftDetectorOptions = {}) {
    for (const [valueId, label] of options.known ?? []) this.#labels.set(valueId, { name: label.name, value: label.value });
    this.#onDrift = options.onDrift;
  }

  /**
   * Records the labels of an outreach's properties.
   * @returns the drifts found in this outreach (empty when none), also passed to `onDrift`.
   */
  observe(outreach: Pick<Outreach, 'outreachId' | 'outreachProperties'>): LabelDrift[] {
    const drifts: LabelDrift[] = [];
    for (const property of outreach.outreachProperties) {
      if (property.valueId === undefined) continue;
      const previous = this.#labels.get(property.valueId);
      if (previous !== undefined && previous.name === property.name && previous.value === property.value) continue;
      const current = { name: property.name, value: property.value };
      this.#labels.set(property.valueId, current);
      if (previous === undefined) continue;
      const drift = { valueId: property.valueId, previous, current, outreachId: outreach.outreachId };
      drifts.push(drift);
      this.#onDrift?.(drift);
    }
    return drifts;
  }

  /** Every valueId seen and its current label, to save and pass back as `known` next run. */
  labels(): ReadonlyMap<string, ValueIdLabel> {
    return new Map(this.#labels);
  }
}
