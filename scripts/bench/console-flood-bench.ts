// Console-flood benchmark, bundled and run by scripts/bench/flood.mjs (`npm run bench:flood`):
//   node console-flood-bench.js <result.json>
// A firmware that prints without end (flood-forever.elf) runs for BENCH_FLOOD_SECONDS (60) under
// `ctr run -d`, once with `--log-uri binary://` (nerdctl's logging path; a logging binary that
// copies fd 3 to a file) and once with `file://`, both at once, each in its own shim daemon. Every
// 5 s it samples each daemon's VmRSS; at the first sample and at the end it also asks the daemon
// for a full GC (scripts/bench/gc-probe.cjs) and records RSS and live heap right after.
// Issue 11 defect 1 (the logger supervisor retained ~232 B per console write) made binary://
// daemons grow by tens of MiB here; the e2e test test/e2e/console-flood.test.ts pins behaviour
// (every byte in order, daemons serving), this measures memory.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot } from '../../test/e2e/harness/containerd';
import { readFloodLog } from '../../test/e2e/harness/flood-log';
import { shimDaemons } from '../../test/e2e/harness/leftovers';
import { startMicrunStack, type MicrunStack } from '../../test/e2e/harness/micrun-stack';
import { waitFor } from '../../test/e2e/harness/processes';
import { sleep } from './summary';

const SECONDS = Number(process.env.BENCH_FLOOD_SECONDS ?? 60);
const SAMPLE_MS = 5_000;
const RUNTIME = 'io.containerd.mica.v2';
const IMAGE = 'docker.io/micrun-bench/flood-forever:latest';
const LOGGER = path.join(repoRoot, 'test', 'fixtures', 'logger', 'logger.sh');

interface GcPoint {
  rss: number;
  heapUsed: number;
}

const rssKiB = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);

async function afterGc(probeDir: string, pid: number): Promise<GcPoint> {
  const file = path.join(probeDir, `${pid}.jsonl`);
  const lines = () => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n').filter(Boolean) : []);
  const seen = lines().length;
  process.kill(pid, 'SIGUSR2');
  await waitFor(() => lines().length > seen, { what: `gc-probe answer from daemon ${pid}`, timeoutMs: 10_000 });
  return JSON.parse(lines().at(-1)!) as GcPoint;
}

async function main(): Promise<void> {
  const out = process.argv[2];
  if (!out) throw new Error('usage: console-flood-bench <result.json>');
  const work = mkdtempSync(path.join(tmpdir(), 'micrun-flood-bench-'));
  const probeDir = path.join(work, 'gc-probe');
  mkdirSync(probeDir);
  const probe = path.join(repoRoot, 'scripts', 'bench', 'gc-probe.cjs');
  let stack: MicrunStack | undefined;
  try {
    stack = await startMicrunStack({
      stateDir: path.join(work, 'state'),
      images: [['flood-forever', IMAGE]],
      containerd: {
        env: {
          NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --expose-gc --require ${probe}`.trim(),
          MICRUN_BENCH_GC_PROBE_DIR: probeDir,
        },
      },
    });
    const { ctd } = stack;
    const prefix = path.join(work, 'flood-bin');
    const runs = [
      { scheme: 'binary://', id: 'flood-bin', uri: `binary://${LOGGER}?out=${encodeURIComponent(prefix)}`, log: `${prefix}.stdout` },
      { scheme: 'file://', id: 'flood-file', uri: `file://${path.join(work, 'flood-file.log')}`, log: path.join(work, 'flood-file.log') },
    ];
    for (const r of runs) {
      const res = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--log-uri', r.uri, IMAGE, r.id]);
      if (res.code !== 0) throw new Error(`ctr run ${r.id}: ${res.stderr}`);
    }
    const pids = runs.map((r) => {
      const found = shimDaemons(ctd.shimSocketDir, r.id);
      if (found.length !== 1) throw new Error(`expected one shim daemon for ${r.id}, found ${found.length}`);
      return found[0]!;
    });
    const samples: number[][] = runs.map(() => []);
    const gcFirst: GcPoint[] = [];
    for (let t = SAMPLE_MS; t <= SECONDS * 1000; t += SAMPLE_MS) {
      await sleep(SAMPLE_MS);
      pids.forEach((pid, i) => samples[i]!.push(rssKiB(pid)));
      if (t === SAMPLE_MS) for (const pid of pids) gcFirst.push(await afterGc(probeDir, pid));
    }
    const gcLast = await Promise.all(pids.map((pid) => afterGc(probeDir, pid)));
    const bytes = runs.map((r) => (existsSync(r.log) ? statSync(r.log).size : 0));
    for (const r of runs) {
      await ctd.ctr(['task', 'kill', '--signal', 'SIGKILL', r.id]);
    }
    await sleep(2_000);
    const result = runs.map((r, i) => {
      const s = samples[i]!;
      const log = readFloodLog(readFileSync(r.log, 'latin1'));
      return {
        scheme: r.scheme,
        seconds: SECONDS,
        consoleBytes: bytes[i],
        inOrder: log.error === undefined,
        rssKiB: { first: s[0], last: s.at(-1), max: Math.max(...s), samples: s },
        afterGcKiB: { first: gcFirst[i], last: gcLast[i] },
        rssGrowthKiB: s.at(-1)! - s[0]!,
        heapGrowthKiB: gcLast[i]!.heapUsed - gcFirst[i]!.heapUsed,
      };
    });
    writeFileSync(out, JSON.stringify({ date: new Date().toISOString(), runs: result }, null, 2) + '\n');
    console.table(
      result.map((r) => ({
        scheme: r.scheme,
        'console MiB': (r.consoleBytes! / 1048576).toFixed(1),
        'RSS 5 s → end (MiB)': `${(r.rssKiB.first! / 1024).toFixed(1)} → ${(r.rssKiB.last! / 1024).toFixed(1)}`,
        'RSS max (MiB)': (r.rssKiB.max / 1024).toFixed(1),
        'live heap after GC 5 s → end (MiB)': `${(r.afterGcKiB.first!.heapUsed / 1024).toFixed(1)} → ${(r.afterGcKiB.last!.heapUsed / 1024).toFixed(1)}`,
        'in order': r.inOrder,
      })),
    );
  } finally {
    if (stack) for (const pid of shimDaemons(stack.ctd.shimSocketDir)) process.kill(pid, 'SIGKILL');
    await stack?.destroy();
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`console-flood-bench: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
