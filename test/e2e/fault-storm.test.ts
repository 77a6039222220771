// 50 concurrent creates with random kills (real containerd, the built shim, micad-sim behind the
// fault proxy, QEMU): five pods (one shim daemon each: grouping pod) take 50 `ctr run -d`
// at once while, at seeded random moments, some `ctr` clients and two pod daemons are SIGKILLed.
// Whatever each run's fate, the shim answered no call with Unknown, and once the user removed
// every container nothing is left: no micad instance, QEMU, mount, shim daemon or socket, state
// record, task or container. The seed is printed; set MICRUN_STORM_SEED to replay one.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { NOTHING_LEFT, RUNTIME, startFaultStack, type FaultStack } from './harness/fault-stack';
import { shimDaemons } from './harness/leftovers';

const EXIT0 = 'docker.io/micrun-test/exit-0:fault';
const PODS = 5;
const CREATES = 50;
const CLIENT_KILLS = 8;
const DAEMON_KILLS = 2;
const work = mkdtempSync(path.join(tmpdir(), 'micrun-fault-storm-'));
let stack: FaultStack | undefined;

beforeAll(async () => {
  // Grouping pod: a daemon per pod, so killing two daemons hits two pods and leaves three serving
  // (under the default grouping, namespace, every pod would share the one daemon).
  stack = await startFaultStack({ work, images: [['exit-0', EXIT0]], micadTimeoutMs: 10_000, containerd: { env: { MICRUN_SHIM_GROUPING: 'pod' } } });
});

afterAll(async () => {
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/** mulberry32: a small seeded PRNG, so a failing storm can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const podAnnotations = (pod: string, type: 'sandbox' | 'container') => [
  '--annotation', `io.kubernetes.cri.container-type=${type}`,
  '--annotation', `io.kubernetes.cri.sandbox-id=${pod}`,
];

/** `ctr run -d` as a child we can SIGKILL; resolves with its exit code (null when killed). */
function ctrRun(s: FaultStack, args: string[]): { child: ChildProcess; done: Promise<number | null> } {
  const child = spawn(path.join(s.ctd.build.binDir, 'ctr'), ['--address', s.ctd.address, 'run', '-d', '--runtime', RUNTIME, ...args], { stdio: 'ignore' });
  const done = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, done };
}

test(`${CREATES} concurrent creates in ${PODS} pods with ${CLIENT_KILLS} ctr clients and ${DAEMON_KILLS} pod daemons SIGKILLed: no Unknown, nothing left`, async () => {
  const s = stack!;
  // A fixed default seed (one that left records behind before the orphan sweep judged daemons), so CI
  // replays a known storm; MICRUN_STORM_SEED picks another.
  const seed = Number(process.env.MICRUN_STORM_SEED ?? 789224);
  console.log(`storm seed ${seed} (MICRUN_STORM_SEED=${seed} replays it)`);
  const random = prng(seed);
  const unknownReplies = s.watchUnknownReplies();

  const pods = Array.from({ length: PODS }, (_, i) => `pod${i}`);
  for (const pod of pods) {
    const r = await s.ctd.ctr(['run', '-d', '--runtime', RUNTIME, ...podAnnotations(pod, 'sandbox'), EXIT0, pod]);
    expect(r.code, r.stderr).toBe(0);
  }
  const daemons = shimDaemons(s.ctd.shimSocketDir);
  expect(daemons).toHaveLength(PODS);

  const ids = Array.from({ length: CREATES }, (_, i) => `c${i}`);
  const runs = ids.map((id, i) => ctrRun(s, [...podAnnotations(pods[i % PODS]!, 'container'), EXIT0, id]));
  const kills: Promise<void>[] = [];
  const later = (ms: number, what: () => void) => kills.push(new Promise((r) => setTimeout(() => (what(), r()), ms)));
  const victims = new Set<number>();
  while (victims.size < CLIENT_KILLS) victims.add(Math.floor(random() * CREATES));
  for (const i of victims) later(random() * 3000, () => runs[i]!.child.kill('SIGKILL'));
  for (const pid of daemons.slice(0, DAEMON_KILLS)) {
    later(random() * 3000, () => {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
  }
  await Promise.all(kills);
  const codes = await Promise.all(runs.map((r) => r.done));
  const ok = codes.filter((c) => c === 0).length;
  console.log(`storm: ${ok} of ${CREATES} ctr run -d succeeded, ${codes.filter((c) => c === null).length} clients killed, ${codes.filter((c) => c !== 0 && c !== null).length} failed`);

  // As a user (or kubelet) would: remove every container, ten at a time, then the pods.
  for (let i = 0; i < ids.length; i += 10) await Promise.all(ids.slice(i, i + 10).map((id) => s.removeContainer(id)));
  await Promise.all(pods.map((pod) => s.removeContainer(pod)));
  // Up to a minute for the daemons to go: one whose last client left ends 10 s later, and one
  // with a Create still in flight (micad's 10 s timeout here) looks again 10 s after that. A leak
  // is for ever, so waiting longer hides none.
  expect(await s.settledLeftovers(60_000)).toEqual(NOTHING_LEFT);
  expect(unknownReplies()).toEqual([]);
}, 600_000);
