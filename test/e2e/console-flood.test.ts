// A firmware that prints without end, for a minute, through `binary://` (nerdctl's logging path)
// and `file://` at once (issue 11, defect 1: the logger supervisor retained ~232 bytes per
// console write, so such a firmware grew the daemon without end). This pins behaviour: every
// byte arrives, in order, at the log file and at the logging binary, and the daemons keep
// serving throughout. The memory figure over the minute is a benchmark (`npm run bench:flood`,
// docs/benchmarks.md), not a bound here; the retention itself is pinned by
// test/shim-io/logger-supervisor-leak.test.ts.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { repoRoot, taskStatus, type Containerd } from './harness/containerd';
import { readFloodLog } from './harness/flood-log';
import { micadInstances } from './harness/leftovers';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { isAlive, waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const IMAGE = 'docker.io/micrun-test/flood-forever:e2e';
const LOGGER = path.join(repoRoot, 'test', 'fixtures', 'logger', 'logger.sh');
const FLOOD_SECONDS = 60;
const SAMPLE_EVERY_MS = 5_000;

const work = mkdtempSync(path.join(tmpdir(), 'micrun-flood-e2e-'));
let stack: MicrunStack | undefined;
let ctd: Containerd;

beforeAll(async () => {
  stack = await startMicrunStack({ stateDir: path.join(work, 'state'), images: [['flood-forever', IMAGE]] });
  ({ ctd } = stack);
});
afterAll(async () => {
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
});

const read = (file: string) => (existsSync(file) ? readFileSync(file, 'latin1') : '');

describe('a firmware printing without end', () => {
  test(`${FLOOD_SECONDS} s through binary:// and file:// at once: every byte in order, daemons serving`, { timeout: (FLOOD_SECONDS + 120) * 1000 }, async () => {
    const fileLog = path.join(work, 'logs', 'flood-file.log');
    const prefix = path.join(work, 'flood-bin');
    const binLog = `${prefix}.stdout`;
    const tasks = [
      { id: 'flood-file', uri: `file://${fileLog}`, log: fileLog },
      { id: 'flood-bin', uri: `binary://${LOGGER}?out=${encodeURIComponent(prefix)}`, log: binLog },
    ];
    for (const t of tasks) {
      const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--log-uri', t.uri, IMAGE, t.id]);
      expect(r.code, r.stderr).toBe(0);
    }
    const loggerPid = Number(readFileSync(`${prefix}.starts`, 'utf8').trim());

    const until = Date.now() + FLOOD_SECONDS * 1000;
    let samples = 0;
    while (Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, SAMPLE_EVERY_MS));
      // The daemons answer while their consoles pour out: status, metrics.
      for (const t of tasks) {
        expect(await taskStatus(ctd, t.id)).toBe('RUNNING');
        const metrics = await ctd.ctr(['task', 'metrics', t.id]);
        expect(metrics.code, metrics.stderr).toBe(0);
      }
      samples++;
    }
    expect(samples).toBeGreaterThan(0);

    for (const t of tasks) {
      expect((await ctd.ctr(['task', 'kill', '--signal', 'SIGKILL', t.id])).code).toBe(0);
      await waitFor(async () => (await taskStatus(ctd, t.id)) === 'STOPPED', { what: `${t.id} STOPPED`, timeoutMs: 30_000 });
      expect((await ctd.ctr(['task', 'delete', t.id])).code).toBe(0);
      expect((await ctd.ctr(['container', 'delete', t.id])).code).toBe(0);
    }
    // The logging binary gets EOF on fd 3 at task exit and ends after writing what it read.
    await waitFor(() => !isAlive(loggerPid), { what: 'logging binary exited', timeoutMs: 30_000 });

    for (const t of tasks) {
      const log = readFloodLog(read(t.log));
      console.log(`${t.id}: ${log.lines} lines, ${log.bytes} bytes in ${FLOOD_SECONDS} s`);
      expect(log.error, `${t.id} log`).toBeUndefined();
      expect(log.lines).toBeGreaterThan(1000); // the firmware really flooded (~10 bytes a line)
    }
    expect(read(`${prefix}.stderr`)).toBe('');
    await waitFor(() => micadInstances(stack!.sim.socketDir).length === 0, { what: 'no micad instance', timeoutMs: 10_000 });
  });
});
