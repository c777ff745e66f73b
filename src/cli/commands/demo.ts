import { OutreachConsumer } from '../../consumer/outreach-consumer.js';
import { startDevQueue } from '../../testing/dev-queue/dev-queue.js';
import type { Outreach, Student } from '../../message/outreach.js';
import { exampleOutreachMessages } from '../../testing/examples.js';
import { makeOutreachMessages } from '../../testing/factory.js';
import type { CliCommand } from '../command.js';
import { EXIT } from '../exit-codes.js';
import { guidePath, helpPointer, RUN } from '../guide.js';
import { countOption, DEV_QUEUE_NAME } from './dev-queue.js';

/** How many students of one outreach the demo prints before "and N more". */
const STUDENTS_SHOWN = 3;

/** `demo`: decoded outreach from the dev queue, with Node alone. */
export const demo: CliCommand = {
  name: 'demo',
  summary: 'consume sample outreach from a built-in dev queue and print it (needs nothing but Node)',
  help: `Usage: civitas-outreach demo [--messages N]

Starts the embedded development queue in this process (no port, no broker to install), puts the
spec's three example outreach on it and N more made-up ones, consumes them with OutreachConsumer
(decoded, accepted after each is printed), prints each readably (source, medium, employee,
students, properties with their valueIds), and closes once the queue has run dry.

Options:
  --messages N   made-up outreach after the three examples (default: 5)`,
  options: { messages: { type: 'string' } },
  async run(values, context) {
    const extra = countOption(values, 'messages', 5, 0, 10_000);
    const samples = [...Object.values(exampleOutreachMessages()), ...makeOutreachMessages(extra, { seed: 2018 })];
    await using q = await startDevQueue({ network: false, queues: { [DEV_QUEUE_NAME]: samples } });
    const consumer = new OutreachConsumer({
      url: q.url,
      username: q.username,
      password: q.password,
      queue: DEV_QUEUE_NAME,
      allowInsecure: true, // in-process: nothing leaves this process
      telemetry: false,
    });
    let shown = 0;
    const drained = new Promise<void>((resolve) => consumer.once('drained', resolve));
    consumer.on('error', (error) => context.stderr.write(`${error.code}: ${error.message}\n`));
    await consumer.start((delivery) => {
      context.stdout.write(`${describeOutreach(delivery.outreach, ++shown)}\n`);
    });
    await Promise.race([drained, new Promise((resolve) => context.interrupted.addEventListener('abort', resolve, { once: true }))]);
    const report = await consumer.close();
    const gettingStarted = guidePath('getting-started.md');
    context.stdout.write(
      `${shown} outreach decoded and accepted (${report.accepted} settled as accepted); ${q.depth(DEV_QUEUE_NAME)} left on the queue.\n` +
        `Next: your own queue with \`${RUN} check\`, then \`peek\` and \`pull\` (${helpPointer()}), ` +
        `or OutreachConsumer in your code${gettingStarted === undefined ? '' : ` (${gettingStarted})`}.\n`,
    );
    return report.accepted === samples.length ? EXIT.ok : EXIT.failure;
  },
};

/** One outreach as a few readable lines. */
export function describeOutreach(outreach: Outreach, n: number): string {
  const employee = [outreach.employeeFirstName, outreach.employeeLastName].filter(Boolean).join(' ');
  const lines = [
    `${n}. ${outreach.outreachSource} · ${outreach.outreachMedium} · ${outreach.createdAt} · outreach ${outreach.outreachId}`,
    `   by ${employee === '' ? '(no employee)' : employee}${outreach.employeeEmail === undefined ? '' : ` <${outreach.employeeEmail}>`}`,
    `   to ${outreach.students.length} student(s)${outreach.students.length === 0 ? '' : ': '}${outreach.students.slice(0, STUDENTS_SHOWN).map(describeStudent).join('; ')}${
      outreach.students.length > STUDENTS_SHOWN ? `; and ${outreach.students.length - STUDENTS_SHOWN} more` : ''
    }`,
  ];
  if (outreach.outreachProperties.length > 0) {
    const width = Math.max(...outreach.outreachProperties.map((p) => p.name.length));
    lines.push('   properties:');
    for (const p of outreach.outreachProperties) {
      lines.push(`     ${p.name.padEnd(width)}  ${JSON.stringify(p.value)}${p.valueId === undefined ? '' : `  valueId ${p.valueId}`}`);
    }
  }
  return lines.join('\n');
}

function describeStudent(student: Student): string {
  const name = [student.firstName, student.lastName].filter(Boolean).join(' ');
  return `${student.institutionPersonID}${name === '' ? '' : ` ${name}`}${student.emailAddress === undefined ? '' : ` <${student.emailAddress}>`}`;
}
