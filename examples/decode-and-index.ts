// Decode the spec's three example messages, read their properties by stable valueId, and see what
// a bad message looks like. Run: npm run example:decode
import { isLeft } from 'fp-ts/lib/Either.js';
import {
  decodeOutreach,
  defineValueIds,
  indexProperties,
  LabelDriftDetector,
} from 'civitas-outreach';
import { exampleOutreachMessages } from 'civitas-outreach/testing';

// Your integration's own names for the valueIds it cares about (labels can be renamed; ids cannot).
const ids = defineValueIds({
  campaignSent: 'c9a33a36-4cb0-2c42-352c-75e2911e2f27',
  textSent: 'c95267ff-2718-f2d3-1cd1-38f2f2bad8da',
  emailSent: '5bb6226a-5db7-69b7-2054-0b7a725e045a',
});
const drift = new LabelDriftDetector({
  onDrift: (d) => console.warn(`label drift on ${d.valueId}: "${d.previous.value}" -> "${d.current.value}"`),
});

for (const [name, message] of Object.entries(exampleOutreachMessages())) {
  // On the queue this is a string (JMS TextMessage) or bytes; decodeOutreach takes either.
  const result = decodeOutreach(JSON.stringify(message));
  if (isLeft(result)) {
    console.error(name, result.left.message);
    continue;
  }
  const outreach = result.right;
  const props = indexProperties(outreach);
  drift.observe(outreach);
  console.log(name, {
    outreachId: outreach.outreachId,
    source: outreach.outreachSource,
    medium: outreach.outreachMedium,
    students: outreach.students.length,
    matches: props.matches(ids),
    isSuccess: props.get('isSuccess'),
    rawEnrollmentId: props.get('rawEnrollmentId'),
  });
}

// Civitas renames a label: the valueId still matches, and the drift detector says so.
const renamed = exampleOutreachMessages().inspireForFaculty;
renamed.outreachProperties[2]!.value = 'Email delivered';
const again = decodeOutreach(renamed);
if (!isLeft(again)) {
  drift.observe(again.right);
  console.log('after rename, matches:', indexProperties(again.right).matches(ids));
}

// A broken message: a typed error that names the field, not the student.
const broken = exampleOutreachMessages().inspireForAdvisors as unknown as { students: { emailAddress: unknown }[] };
broken.students[0]!.emailAddress = 12;
const bad = decodeOutreach(JSON.stringify(broken));
if (isLeft(bad)) console.log(`${bad.left.kind}: ${bad.left.message}`);
