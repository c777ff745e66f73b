// Poison benchmark on a real local broker: how fast good messages flow when poison is mixed in.
// Each round drains three queues with the same good messages, the middle one with poison added
// (10% whose handler always throws, 10% undecodable), default options (retry delays 1 s doubling,
// outage handling on), concurrency 8; the poisoned drain is set against the mean of the clean
// drains before and after it. Prints the good-message throughput of
// each and the ratio with/without poison, plus what became of the poison. The poison's own
// deliveries are counted too (each always-failing message comes back up to maxAttempts times):
// deliveries per good message, and the ratio per delivery (throughput of deliveries with poison /
// without), which is what is left once those are accounted for. A warm-up round (broker and
// process cold) runs first and is not counted.
// Run: npm run bench:poison   (BENCH_GOOD, BENCH_ROUNDS to change the size)
import { startBroker, type BrokerHandle } from '../scripts/activemq.mjs';
import { OutreachConsumer } from '../src/index.js';
import { makeOutreachMessages } from '../src/testing/index.js';
import { sendBodies } from '../examples/seed-dev-queue.js';
import { brokerOptions, groupCpuMs, record, spread } from './support.js';

const good = Number(process.env.BENCH_GOOD ?? 800);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const poisonShare = 0.1;

interface Run {
  readonly ms: number;
  /** Deliveries until the last good message was handled: handler calls and undecodable ones. */
  readonly deliveries: number;
  readonly deadLettered: number;
  readonly invalid: number;
  readonly outages: number;
  /** CPU of this process and of the broker from start to the last good message, µs per delivery. */
  readonly cpuUs: number;
  readonly brokerCpuUs: number;
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
  const cpu = process.cpuUsage();
  const brokerCpu = groupCpuMs(broker.pid);
  let cpuAtFinish = { user: 0, system: 0 };
  let brokerCpuAtFinish = 0;
  const started = performance.now();
  let finished = 0;
  let deliveries = 0;
  let atFinish = 0;
  consumer.on('invalid', () => void deliveries++);
  await consumer.start(
    (delivery) => {
      deliveries++;
      const id = delivery.outreach.outreachId;
      if (poisonIds.has(id)) throw new Error('this message always fails');
      if (!seen.has(id)) {
        seen.add(id);
        if (seen.size === good) {
          finished = performance.now();
          atFinish = deliveries;
          cpuAtFinish = process.cpuUsage(cpu);
          brokerCpuAtFinish = groupCpuMs(broker.pid) - brokerCpu;
        }
      }
    },
    { concurrency: 8 },
  );
  while (seen.size < good) await new Promise((r) => setTimeout(r, 5));
  const report = await consumer.close({ deadlineMs: 1000 });
  return {
    ms: finished - started, deliveries: atFinish, deadLettered, invalid: report.invalid, outages,
    cpuUs: (cpuAtFinish.user + cpuAtFinish.system) / atFinish, brokerCpuUs: (brokerCpuAtFinish * 1000) / atFinish,
  };
}

const broker = await startBroker({ quiet: true, persistent: false });
try {
  const ratios: number[] = [];
  const perDelivery: number[] = [];
  const deliveriesPerGood: number[] = [];
  /** CPU per delivery with poison / without: this process's, the broker's. */
  const clientCpu: number[] = [];
  const brokerCpu: number[] = [];
  // Round 0 warms the broker and this process up and is not counted.
  for (let round = 0; round <= rounds; round++) {
    const clean = bodies(round, false);
    const poisoned = bodies(round, true);
    await sendBodies(broker, `bench.clean.${round}.a`, clean.bodies);
    await sendBodies(broker, `bench.poison.${round}`, poisoned.bodies);
    await sendBodies(broker, `bench.clean.${round}.b`, clean.bodies);
    // Clean, poisoned, clean: a drain that comes later in a round runs faster (measured: up to 2x
    // between the first and the second), so the poisoned one is set against both clean ones.
    const before = await drain(broker, `bench.clean.${round}.a`, clean.poisonIds);
    const withPoison = await drain(broker, `bench.poison.${round}`, poisoned.poisonIds);
    const after = await drain(broker, `bench.clean.${round}.b`, clean.poisonIds);
    const mean = (f: (r: Run) => number): number => (f(before) + f(after)) / 2;
    const without: Run = { ...before, ms: mean((r) => r.ms), deliveries: mean((r) => r.deliveries), cpuUs: mean((r) => r.cpuUs), brokerCpuUs: mean((r) => r.brokerCpuUs) };
    const ratio = without.ms / withPoison.ms;
    // Per delivery: the rate at which deliveries were handled, with poison / without.
    const perGood = withPoison.deliveries / good;
    const accounted = (withPoison.deliveries / withPoison.ms) / (without.deliveries / without.ms);
    if (round > 0) {
      ratios.push(ratio);
      perDelivery.push(accounted);
      clientCpu.push(withPoison.cpuUs / without.cpuUs);
      brokerCpu.push(withPoison.brokerCpuUs / without.brokerCpuUs);
      deliveriesPerGood.push(perGood);
    }
    console.log(
      `${round === 0 ? 'warm-up (not counted)' : `round ${round}`}: deliveries per good message ${perGood.toFixed(2)} (without poison ${(without.deliveries / good).toFixed(2)}), ` +
        `ratio per delivery ${accounted.toFixed(2)} | good messages without poison ${Math.round((good / without.ms) * 1000)} msg/s | with ${poisoned.poisonIds.size} throwing + ` +
        `${poisoned.poisonIds.size} undecodable ${Math.round((good / withPoison.ms) * 1000)} msg/s | ratio ${ratio.toFixed(2)} | ` +
        `invalid seen ${withPoison.invalid}, dead-lettered by the end ${withPoison.deadLettered}, outages ${withPoison.outages} | ` +
        `CPU µs per delivery without / with poison: this process ${without.cpuUs.toFixed(0)} / ${withPoison.cpuUs.toFixed(0)}, broker ${without.brokerCpuUs.toFixed(0)} / ${withPoison.brokerCpuUs.toFixed(0)}`,
    );
  }
  record('poison', 'ratio good-message throughput with poison / without', { ...spread(ratios), goal: 0.8, good, rounds });
  record('poison', 'ratio per delivery with poison / without (the poison\'s own deliveries accounted)', { ...spread(perDelivery), goal: 0.9, good, rounds });
  record('poison', 'deliveries per good message with poison', { ...spread(deliveriesPerGood), good, rounds });
  record('poison', 'CPU per delivery with poison / without, this process', { ...spread(clientCpu), good, rounds });
  record('poison', 'CPU per delivery with poison / without, the broker', { ...spread(brokerCpu), good, rounds });
  const line = (name: string, values: number[], goal?: number): string => {
    const sorted = [...values].sort((x, y) => x - y);
    return `${name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(2)} (min ${sorted[0]!.toFixed(2)}, max ${sorted.at(-1)!.toFixed(2)})${goal === undefined ? '' : `; goal >= ${goal}`}`;
  };
  console.log(`${good} good messages, ${rounds} rounds after a warm-up`);
  console.log(line('good-message throughput with poison / without (raw)', ratios));
  console.log(line('deliveries per good message with poison', deliveriesPerGood));
  console.log(line('throughput per delivery with poison / without (accounted)', perDelivery, 0.9));
  console.log(line('CPU per delivery with poison / without, this process', clientCpu));
  console.log(line('CPU per delivery with poison / without, the broker', brokerCpu));
} finally {
  await broker.stop();
}
