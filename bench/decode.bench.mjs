// Decode benchmark: full decodeOutreach (parse + validate) against JSON.parse alone, on the same
// bodies, in the same run, rounds interleaved. Prints the ratio; asserts nothing about time.
// Run with `npm run bench:decode` (builds first). Options: BENCH_MESSAGES, BENCH_ROUNDS, BENCH_STUDENTS.
//
// Two kinds of rows: outreach that decodes (the fast path), and the worst cases of a wrong shape
// (bodies of a few megabytes holding up to millions of misplaced values). For the worst cases it
// also prints the peak memory of one call, measured in a fresh child process per call (peak RSS
// over the process with the body already in memory), for JSON.parse alone and for decodeOutreach.
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeOutreach } from '../dist/index.js';
import { makeOutreachMessage, makeOutreachMessages } from '../dist/testing.js';

// ---- child: one call, then its peak memory --------------------------------------------------------
if (process.argv[2] === '--peak') {
  const [, , , file, mode] = process.argv;
  const body = readFileSync(file, 'utf8');
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const result = mode === 'parse' ? JSON.parse(body) : decodeOutreach(body);
  const peak = process.resourceUsage().maxRSS * 1024;
  process.stdout.write(JSON.stringify({ extra: peak - before, held: typeof result }));
  process.exit(0);
}

const messages = Number(process.env.BENCH_MESSAGES ?? 2000);
const rounds = Number(process.env.BENCH_ROUNDS ?? 15);
const students = process.env.BENCH_STUDENTS === undefined ? {} : { students: Number(process.env.BENCH_STUDENTS) };

/** One figure for `npm run bench` (docs/benchmarks.md), when BENCH_JSON names a file. */
function record(name, figure) {
  if (process.env.BENCH_JSON) appendFileSync(process.env.BENCH_JSON, `${JSON.stringify({ bench: 'decode', name, ...figure })}\n`);
}

const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MB`;

function measure(label, bodies, { wrong = false, roundsOf = rounds } = {}) {
  let sink = 0;
  const baseline = () => {
    for (const body of bodies) sink += Object.keys(JSON.parse(body)).length;
  };
  const decode = () => {
    for (const body of bodies) {
      const r = decodeOutreach(body);
      if ((r._tag === 'Left') !== wrong) throw r._tag === 'Left' ? r.left : new Error(`${label}: decoded, expected a wrong shape`);
      sink += r._tag === 'Left' ? r.left.issues.length : r.right.students.length;
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
  for (let r = 0; r < roundsOf; r++) {
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
  const size = bodies.length === 1 ? `1 body of ${mb(bytes)}` : `${bodies.length} bodies, mean ${Math.round(bytes)} B`;
  const speed = bodies.length === 1
    ? `JSON.parse ${best.base.toFixed(1)} ms | decodeOutreach ${best.dec.toFixed(1)} ms`
    : `JSON.parse ${Math.round((bodies.length / best.base) * 1000)} msg/s | decodeOutreach ${Math.round((bodies.length / best.dec) * 1000)} msg/s`;
  record(label, {
    bodies: bodies.length,
    meanBytes: Math.round(bytes),
    parseMsPerBody: best.base / bodies.length,
    decodeMsPerBody: best.dec / bodies.length,
    median,
    min: ratios[0],
    max: ratios.at(-1),
  });
  console.log(
    `${label}: ${size} | ${speed} | ratio decode/parse median ${median.toFixed(2)}x ` +
      `(min ${ratios[0].toFixed(2)}x, max ${ratios.at(-1).toFixed(2)}x)${sink < 0 ? '' : ''}`,
  );
  return median;
}

/** Peak memory of one JSON.parse and one decodeOutreach of `body`, each in a fresh process. */
function peaks(body) {
  const dir = mkdtempSync(join(tmpdir(), 'decode-bench-'));
  const file = join(dir, 'body.json');
  writeFileSync(file, body);
  try {
    const run = (mode) => {
      const child = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--peak', file, mode], { encoding: 'utf8' });
      if (child.status !== 0) throw new Error(`peak ${mode} failed: ${child.stderr}`);
      return JSON.parse(child.stdout).extra;
    };
    const parse = Math.min(run('parse'), run('parse'));
    const decode = Math.min(run('decode'), run('decode'));
    return { parse, decode };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- outreach that decodes -----------------------------------------------------------------------
const varied = [...makeOutreachMessages(messages, { seed: 1, ...students })].map((m) => JSON.stringify(m));
const big = [...makeOutreachMessages(Math.max(20, messages / 50), { seed: 9, students: 200 })].map((m) => JSON.stringify(m));
const m1 = measure('varied outreach (1-5 students)', varied);
const m2 = measure('campaign outreach (200 students)', big);
const goal = 1.5;
console.log(`goal: decode costs at most ${goal}x JSON.parse on varied outreach -> ${m1 <= goal ? 'met' : 'NOT met'} (campaigns: ${m2.toFixed(2)}x)`);

// ---- wrong shapes: the worst cases ---------------------------------------------------------------
const HEAD = '"outreachId":"x","createdAt":"2018-06-11T19:35:15.366848","outreachSource":"a","outreachMedium":"b"';
const deepArray = (depth) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const deepObject = (depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
const wideStudent = (i) => {
  const unknown = Array.from({ length: 40 }, (_, k) => `"k${k}":${k % 2 === 0 ? deepArray(8) : deepObject(8)}`).join(',');
  return `{"institutionPersonID":${deepObject(20)},"firstName":${deepArray(20)},"lastName":${i},"emailAddress":{},"createdAt":"2018-02-30T10:00:00",${unknown}}`;
};
const lateError = (() => {
  // a valid campaign of some 8 MB, wrong only in the last student's last field
  const message = makeOutreachMessage({ seed: 21, students: 40_000 });
  message.students.at(-1).createdAt = '2018-02-30T10:00:00';
  return JSON.stringify(message);
})();
const worst = [
  ['students: [1,1,1,...]', `{${HEAD},"students":[${'1,'.repeat(4_000_000 - 1)}1]}`],
  ['outreachProperties: 100k wrong objects', `{${HEAD},"outreachProperties":[${Array(100_000).fill('{"outreachPropertyId":null,"name":1,"value":{},"createdAt":"x","valueId":""}').join(',')}]}`],
  ['students: 5k deep and wide wrong objects', `{${HEAD},"students":[${Array.from({ length: 5_000 }, (_, i) => wideStudent(i)).join(',')}]}`],
  ['valid 40k-student campaign, last field wrong', lateError],
];
const worstRatios = [];
for (const [label, body] of worst) {
  if (Buffer.byteLength(body) > 16 * 2 ** 20) throw new Error(`${label}: over the 16 MiB cap, it would not be parsed`);
  worstRatios.push(measure(`wrong shape, ${label}`, [body], { wrong: true, roundsOf: Math.min(rounds, 9) }));
  const { parse, decode } = peaks(body);
  console.log(`  peak memory of one call over the body: JSON.parse ${mb(parse)} | decodeOutreach ${mb(decode)} | extra ${mb(decode - parse)}`);
  record(`peak memory, wrong shape, ${label}`, { parseMB: parse / 2 ** 20, decodeMB: decode / 2 ** 20 });
}
const worstGoal = 3;
console.log(`goal: a wrong shape costs at most ${worstGoal}x JSON.parse -> ${Math.max(...worstRatios) <= worstGoal ? 'met' : 'NOT met'}`);
