// Label drift: Civitas can rename a label ("Email sent" becomes "Email delivered"); its valueId
// never changes. Key your integration on valueIds (defineValueIds, PropertyIndex.matches/has) and
// let LabelDriftDetector tell you when a known valueId arrives with a new label, so that whoever
// reads labels (reports, CRM picklists) learns of it.
//
//   npm run example:label-drift       (embedded default; or set CIVITAS_URL & co.)
//
// Embedded default: puts 40 made-up outreach on the queue; in the last 20 two labels are renamed
// ("Email sent" -> "Email delivered", "GPA" -> "GPA below threshold", the spec's own example of a
// rename), reads them all, reports each rename once, and stops when the queue has run dry.
import { defineValueIds, indexProperties, LabelDriftDetector, OutreachConsumer, type ValueIdLabel } from 'civitas-outreach';
import { makeOutreachMessages, type OutreachWireMessage } from 'civitas-outreach/testing';
import { exampleConnection } from './dev-broker.js';

// Your integration's names for the valueIds it acts on.
const ids = defineValueIds({
  emailSent: '5bb6226a-5db7-69b7-2054-0b7a725e045a',
  reasonGpa: 'f00d0002-0000-4000-8000-000000000001', // made up by the sample factory
});

// The labels your integration was built against: saved by an earlier run (drift.labels()), e.g. in
// your database. Without them, the first label seen for a valueId becomes the reference.
const known: [string, ValueIdLabel][] = [
  [ids.emailSent, { name: 'outreachMediumResult', value: 'Email sent' }],
  [ids.reasonGpa, { name: 'outreachReason', value: 'GPA' }],
];

/** Sample outreach in which Civitas renamed two labels halfway through. */
function samplesWithRenames(): OutreachWireMessage[] {
  const renamed: Record<string, string> = { [ids.emailSent]: 'Email delivered', [ids.reasonGpa]: 'GPA below threshold' };
  return [...makeOutreachMessages(40, { seed: 300 })].map((message, i) => {
    if (i < 20) return message;
    for (const property of message.outreachProperties) {
      const label = property.valueId === undefined ? undefined : renamed[property.valueId];
      if (label !== undefined) property.value = label;
    }
    return message;
  });
}

const connection = await exampleConnection(0);
await connection.publish?.(samplesWithRenames().map((m) => JSON.stringify(m)));
if (connection.publish !== undefined) console.log('and 40 outreach of its own; two labels are renamed in the last 20');

const drift = new LabelDriftDetector({
  known,
  onDrift: (d) => console.log(`label drift: ${d.valueId} (${d.current.name}) "${d.previous.value}" -> "${d.current.value}", first in outreach ${d.outreachId}`),
});

const consumer = new OutreachConsumer({ ...connection.options, prefetch: 10 });
consumer.on('error', (err, source) => console.warn(`[${source}] ${err.code}: ${err.message}`));
if (connection.embedded) consumer.once('drained', () => void consumer.close());
process.once('SIGINT', () => void consumer.close());

let read = 0;
let byValueId = 0;
let byLabel = 0;
let gpa = 0;
let succeeded = 0;
for await (const delivery of consumer) {
  read++;
  const props = indexProperties(delivery.outreach);
  drift.observe(delivery.outreach);
  // By valueId: right whatever the label says today.
  if (props.has(ids, 'emailSent')) byValueId++;
  if (props.matches(ids).includes('reasonGpa')) gpa++;
  // By label: what an integration keyed on text would do; it misses every renamed one.
  if (props.first('outreachMediumResult')?.value === 'Email sent') byLabel++;
  // Documented properties read as typed values: the "0"/"1" flag as a boolean.
  if (props.get('isSuccess') === true) succeeded++;
}

console.log(`read ${read} outreach; ${succeeded} with isSuccess`);
console.log(`emailSent by valueId: ${byValueId}; by the label "Email sent": ${byLabel} (a label-keyed integration missed ${byValueId - byLabel})`);
console.log(`reasonGpa by valueId: ${gpa}`);
// Save these for the next run (the `known` option).
for (const [valueId, label] of drift.labels()) {
  if (valueId === ids.emailSent || valueId === ids.reasonGpa) console.log(`label now: ${valueId} ${label.name} "${label.value}"`);
}
await connection.stop();
