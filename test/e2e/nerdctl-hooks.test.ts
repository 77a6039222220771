// nerdctl's OCI hooks on micrun: nerdctl puts a createRuntime and a postStop hook (its own binary,
// `internal oci-hook <event>`, CNI setup and teardown against /proc/<state.pid>/ns/net) in every
// spec. An RTOS task's pid is a host process, so micrun must never run them (src/oci/hooks.ts).
// The same nerdctl-shaped spec (`--net none`: a new network namespace) goes to runc and to
// micrun through `ctr run --config`: runc runs the recording hook — the control that shows the
// hook works — micrun runs the firmware, runs no hook and logs why.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, expect, test } from 'vitest';
import { taskStatus } from './harness/containerd';
import { firmwarePath } from './harness/micad-sim';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { waitFor } from './harness/processes';

const work = mkdtempSync(path.join(tmpdir(), 'micrun-nerd-hooks-'));
const hook = path.join(work, 'hook.sh');
let stack: MicrunStack | undefined;

beforeAll(async () => {
  // The hook records its event and the state it was given, like `nerdctl internal oci-hook`.
  writeFileSync(hook, `#!/bin/sh\ncat > "${work}/ran-$1-$(date +%s%N)"\n`);
  chmodSync(hook, 0o755);
  stack = await startMicrunStack({ stateDir: path.join(work, 'state') });
}, 120_000);

afterAll(async () => {
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

/** A spec shaped like nerdctl's for `nerdctl run --net none`, for a rootfs dir and argv. */
function nerdctlSpec(rootfs: string, args: string[]): object {
  const hookEntry = (event: string) => [{ path: hook, args: [hook, event], env: ['PATH=/usr/bin:/bin'] }];
  return {
    ociVersion: '1.1.0',
    process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' },
    root: { path: rootfs },
    hostname: 'nerd',
    mounts: [{ destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] }],
    annotations: { 'nerdctl/name': 'nerd', 'nerdctl/networks': '["none"]' },
    hooks: { createRuntime: hookEntry('createRuntime'), poststop: hookEntry('postStop') },
    linux: { namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }] },
  };
}

const hookRuns = () => readdirSync(work).filter((f) => f.startsWith('ran-'));
// Each test counts only its own hook runs.
beforeEach(() => {
  for (const f of hookRuns()) rmSync(path.join(work, f));
});

async function runToEnd(id: string, runtime: string, spec: object, whileRunning: () => Promise<void>): Promise<void> {
  const ctd = stack!.ctd;
  const specFile = path.join(work, `${id}.json`);
  writeFileSync(specFile, JSON.stringify(spec));
  const ran = await ctd.ctr(['run', '-d', '--runtime', runtime, '--config', specFile, id]);
  expect(ran.stderr).toBe('');
  await whileRunning();
  await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id]);
  await waitFor(async () => (await taskStatus(ctd, id)) === 'STOPPED', { what: `${id} STOPPED`, timeoutMs: 30_000 });
  expect((await ctd.ctr(['task', 'delete', id])).code).toBe(0);
  expect((await ctd.ctr(['container', 'rm', id])).code).toBe(0);
}

test('runc runs the createRuntime and postStop hooks of the spec (the control)', async () => {
  const rootfs = path.join(work, 'busybox-root');
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  await runToEnd('nerd-runc', 'io.containerd.runc.v2', nerdctlSpec(rootfs, ['/bin/busybox', 'sleep', '600']), async () => {
    await waitFor(async () => (await taskStatus(stack!.ctd, 'nerd-runc')) === 'RUNNING', { what: 'nerd-runc RUNNING', timeoutMs: 30_000 });
  });
  const runs = hookRuns();
  expect(runs.map((f) => f.split('-')[1]).sort()).toEqual(['createRuntime', 'postStop']);
  // The state runc gave createRuntime names the container's own process: what nerdctl's CNI uses.
  const state = JSON.parse(readFileSync(path.join(work, runs.find((f) => f.includes('createRuntime'))!), 'utf8'));
  expect(state).toMatchObject({ id: 'nerd-runc', pid: expect.any(Number) });
}, 120_000);

test('micrun runs the firmware, runs none of the hooks and logs each one it skipped', async () => {
  const rootfs = path.join(work, 'firmware-root');
  mkdirSync(rootfs);
  copyFileSync(firmwarePath('echo'), path.join(rootfs, 'firmware.elf'));
  await runToEnd('nerd-mica', 'io.containerd.mica.v2', nerdctlSpec(rootfs, ['/firmware.elf']), async () => {
    await waitFor(async () => (await taskStatus(stack!.ctd, 'nerd-mica')) === 'RUNNING', { what: 'nerd-mica RUNNING', timeoutMs: 60_000 });
    expect(hookRuns()).toEqual([]);
  });
  expect(hookRuns()).toEqual([]);
  const log = stack!.ctd.log();
  expect(log).toMatch(/OCI createRuntime hook not run: an RTOS task's pid is a host process/);
  expect(log).toMatch(/OCI poststop hook not run/);
  expect(existsSync(path.join(work, 'state', 'containers', 'nerd-mica'))).toBe(false);
}, 120_000);
