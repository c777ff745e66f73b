// Poison benchmark on a real local broker: how fast good messages flow when poison is mixed in.
// Each round drains two queues with the same good messages, one of them with poison added (10%
// whose handler always throws, 10% undecodable), default options (retry delays 1 s doubling,
// outage handling on), concurrency 8, rounds interleaved. Prints the good-message throughput of
// each and the ratio with/without poison (goal >= 0.8), plus what became of the poison.
// Run: npm run bench:poison   (BENCH_GOOD, BENCH_ROUNDS to change the size)
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
import { OutreachConsumer } from '../src/index.js';
import { makeOutreachMessages } from '../src/testing/index.js';
import { sendBodies } from '../examples/seed-dev-queue.js';
import { brokerOptions, record, spread } from './support.js';

const good = Number(process.env.BENCH_GOOD ?? 800);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const poisonShare = 0.1;

interface Run {
  readonly ms: number;
  readonly deadLettered: number;
  readonly invalid: number;
  readonly outages: number;
}

function bodies(round: number, withPoison: boolean): { bodies: string[]; poisonIds: Set<string> } {
  const messages = [...makeOutreachMessages(good, { seed: 100 + round })];
  const out: string[] = [];
  const poisonIds = new Set<string>();
  const every = Math.round(1 / poisonShare) - 2; // one throwing and one undecodable per this many good
  messages.forEach((m, i) => {
    out.push(JSON.stringify(m));
    if (withPoison && i % every === every - 1) {
      const poison = { ...m, outreachId: `poison-${round}-${i}` };
      poisonIds.add(poison.outreachId);
      out.push(JSON.stringify(poison));
      out.push(`{"not": "an outreach", "n": ${i}`);
    }
  });
  return { bodies: out, poisonIds };
}

async function drain(broker: BrokerHandle, queue: string, poisonIds: Set<string>): Promise<Run> {
  const consumer = new OutreachConsumer(brokerOptions(broker, queue));
  let deadLettered = 0;
  let outages = 0;
  consumer.on('error', () => undefined);
  consumer.on('outage', () => outages++);
  consumer.on('settled', (d, outcome) => {
    if (outcome === 'rejected' && d.outreach !== undefined) deadLettered++;
  });
  const seen = new Set<string>();
  const started = performance.now();
  let finished = 0;
  await consumer.start(
    (delivery) => {
      const id = delivery.outreach.outreachId;
      if (poisonIds.has(id)) throw new Error('this message always fails');
      if (!seen.has(id)) {
        seen.add(id);
        if (seen.size === good) finished = performance.now();
      }
    },
    { concurrency: 8 },
  );
  while (seen.size < good) await new Promise((r) => setTimeout(r, 5));
  const report = await consumer.close({ deadlineMs: 1000 });
  return { ms: finished - started, deadLettered, invalid: report.invalid, outages };
}

const broker = await startBroker({ quiet: true, persistent: false });
try {
  const ratios: number[] = [];
  for (let round = 0; round < rounds; round++) {
    const clean = bodies(round, false);
    const poisoned = bodies(round, true);
    await sendBodies(broker, `bench.clean.${round}`, clean.bodies);
    await sendBodies(broker, `bench.poison.${round}`, poisoned.bodies);
    const runClean = (): Promise<Run> => drain(broker, `bench.clean.${round}`, clean.poisonIds);
    const runPoison = (): Promise<Run> => drain(broker, `bench.poison.${round}`, poisoned.poisonIds);
    // Interleaved: which goes first alternates by round.
    let without: Run;
    let withPoison: Run;
    if (round % 2 === 0) {
      without = await runClean();
      withPoison = await runPoison();
    } else {
      withPoison = await runPoison();
      without = await runClean();
    }
    const ratio = without.ms / withPoison.ms;
    ratios.push(ratio);
    console.log(
      `round ${round + 1}: good messages without poison ${Math.round((good / without.ms) * 1000)} msg/s | with ${poisoned.poisonIds.size} throwing + ` +
        `${poisoned.poisonIds.size} undecodable ${Math.round((good / withPoison.ms) * 1000)} msg/s | ratio ${ratio.toFixed(2)} | ` +
        `invalid seen ${withPoison.invalid}, dead-lettered by the end ${withPoison.deadLettered}, outages ${withPoison.outages}`,
    );
  }
  record('poison', 'ratio good-message throughput with poison / without', { ...spread(ratios), goal: 0.8, good, rounds });
  ratios.sort((x, y) => x - y);
  console.log(
    `median good-message throughput with poison / without: ${ratios[Math.floor(ratios.length / 2)]!.toFixed(2)} ` +
      `(min ${ratios[0]!.toFixed(2)}, max ${ratios.at(-1)!.toFixed(2)}; ${good} good messages, ${rounds} rounds; goal >= 0.8)`,
  );
} finally {
  await broker.stop();
}
