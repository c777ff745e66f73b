// Decode benchmark: full decodeOutreach (parse + validate) against JSON.parse alone, on the same
// bodies, in the same run, rounds interleaved. Prints the ratio; asserts nothing about time.
// Run with `npm run bench:decode` (builds first). Options: BENCH_MESSAGES, BENCH_ROUNDS, BENCH_STUDENTS.
import { decodeOutreach, makeOutreachMessages } from '../dist/index.js';

const messages = Number(process.env.BENCH_MESSAGES ?? 2000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const students = process.env.BENCH_STUDENTS === undefined ? {} : { students: Number(process.env.BENCH_STUDENTS) };

function measure(label, bodies) {
  let sink = 0;
  const baseline = () => {
    for (const body of bodies) sink += JSON.parse(body).students.length;
  };
  const decode = () => {
    for (const body of bodies) {
      const r = decodeOutreach(body);
      if (r._tag === 'Left') throw r.left;
      sink += r.right.students.length;
    }
  };
  const time = (fn) => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  for (let i = 0; i < 3; i++) { baseline(); decode(); } // warm-up
  const ratios = [];
  let best = { base: Infinity, dec: Infinity };
  for (let r = 0; r < rounds; r++) {
    globalThis.gc?.();
    const a = r % 2 === 0 ? time(baseline) : undefined;
    const d = time(decode);
    const b = a ?? time(baseline);
    ratios.push(d / b);
    best = { base: Math.min(best.base, b), dec: Math.min(best.dec, d) };
  }
  ratios.sort((x, y) => x - y);
  const median = ratios[Math.floor(ratios.length / 2)];
  const bytes = bodies.reduce((n, b) => n + Buffer.byteLength(b), 0) / bodies.length;
  console.log(
    `${label}: ${bodies.length} bodies, mean ${Math.round(bytes)} B | JSON.parse ${Math.round((bodies.length / best.base) * 1000)} msg/s | ` +
      `decodeOutreach ${Math.round((bodies.length / best.dec) * 1000)} msg/s | ratio decode/parse median ${median.toFixed(2)}x ` +
      `(min ${ratios[0].toFixed(2)}x, max ${ratios.at(-1).toFixed(2)}x)${sink < 0 ? '' : ''}`,
  );
  return median;
}

const varied = [...makeOutreachMessages(messages, { seed: 1, ...students })].map((m) => JSON.stringify(m));
const big = [...makeOutreachMessages(Math.max(20, messages / 50), { seed: 9, students: 200 })].map((m) => JSON.stringify(m));
const m1 = measure('varied outreach (1-5 students)', varied);
const m2 = measure('campaign outreach (200 students)', big);
const goal = 2;
console.log(`goal: decode costs at most ${goal}x JSON.parse -> ${Math.max(m1, m2) <= goal ? 'met' : 'NOT met'}`);
