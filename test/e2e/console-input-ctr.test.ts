// `ctr run` with stdin attached, for a firmware that only polls its UART's RX flag (no timer, no
// interrupt): before micad-sim woke QEMU's main loop on input, this timed out on two of three
// containerd versions. Every containerd build of the matrix, several runs in a row each, so
// that a pass is not luck (issue 11, item 10).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { containerdBuilds } from './harness/containerd-builds';
import { micadInstances } from './harness/leftovers';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const IMAGE = 'docker.io/micrun-test/poll:e2e';
const RUNS = 3;

describe.each(containerdBuilds())('ctr run, stdin into an RX-polling firmware (containerd $version)', (build) => {
  const work = mkdtempSync(path.join(tmpdir(), 'micrun-input-e2e-'));
  let stack: MicrunStack | undefined;

  beforeAll(async () => {
    stack = await startMicrunStack({ stateDir: path.join(work, 'state'), images: [['poll', IMAGE]], containerd: { build } });
  });
  afterAll(async () => {
    await stack?.destroy();
    rmSync(work, { recursive: true, force: true });
  });

  test(`every line reaches the firmware, ${RUNS} containers in a row`, async () => {
    const { ctd, sim } = stack!;
    for (let run = 1; run <= RUNS; run++) {
      const id = `poll-${run}`;
      const ctr = path.join(build.binDir, 'ctr');
      const child = spawn(ctr, ['--address', ctd.address, 'run', '--rm', '--runtime', RUNTIME, IMAGE, id], {
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
      const see = (text: string, what: string) =>
        waitFor(() => out.includes(text), { what, timeoutMs: 20_000 }).catch((e) => {
          throw new Error(`${(e as Error).message}; ctr output: ${JSON.stringify(out)}`);
        });
      try {
        await see('micrun poll firmware ready', `banner of ${id}`);
        for (const line of [`hello ${run}`, 'second line']) {
          child.stdin!.write(`${line}\n`);
          await see(`poll: ${line}`, `answer to "${line}" in ${id}`);
        }
      } finally {
        await ctd.ctr(['task', 'kill', id]);
      }
      expect(await exited).toBe(143);
      expect(out).toContain(`poll: hello ${run}\r\npoll: second line\r\n`);
      await waitFor(() => micadInstances(sim.socketDir).length === 0, { what: 'no micad instance', timeoutMs: 10_000 });
    }
  });
});
