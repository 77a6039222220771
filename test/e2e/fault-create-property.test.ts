// Property test through Create: the built shim daemon (started by its `start` one-shot, as
// containerd does), real micad-sim, bundles whose config.json carries generated spec fields
// (process args/env/cwd, linux.resources) and annotations (every micrun key and unknown ones,
// with values from plausible to absurd). For every input, Create either succeeds — and then
// Delete removes everything — or fails with a coded error (never Unknown, never an empty
// message) and leaves nothing: no state record, no micad instance, nothing staged.
// Bounded: a fixed number of runs with a fixed seed printed on failure (fast-check's replay).
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { containerd } from '../../src/proto';
import { TtrpcClient } from '../../src/ttrpc';
import { distDir } from './harness/containerd';
import { micadInstances, stopShimDaemons } from './harness/leftovers';
import { firmwarePath, startMicadSim, type MicadSim } from './harness/micad-sim';
import { run, waitFor } from './harness/processes';

const SHIM = path.join(distDir, 'containerd-shim-mica-v2.js');
const T = containerd.task.v2;
const TASK = 'containerd.task.v2.Task';
const RUNS = 100;
const work = mkdtempSync(path.join(tmpdir(), 'micrun-fault-prop-'));
const stateDir = path.join(work, 'state');
const socketDir = path.join(work, 's');
let sim: MicadSim | undefined;
let client: TtrpcClient | undefined;

const KEYS = [
  'container.firmware_path', 'container.firmware_hash', 'container.os', 'container.min_memory_mb',
  'container.max_vcpu_num', 'container.debug', 'ped.pedestal', 'ped.conf', 'container.auto_close',
  'container.auto_close_timeout', 'container.auto_disconnect_timeout', 'runtime.enable_vcpus_pinning',
  'runtime.vcpu_pcpu_binding', 'runtime.static_resource', 'runtime.pause', 'config_path',
].map((k) => `org.openeuler.micrun.${k}`);

const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.constantFrom('', '0', '-1', '1', '4096', '99999999999999999999', 'NaN', 'true', 'false', 'zephyr', 'linux', '/firmware.elf', '../../etc/passwd', '/', '0-3', 'sha256:00', '\u0000'),
  fc.integer().map(String),
);
// Mostly micrun's own keys (an unknown org.openeuler.micrun.* key is refused before anything
// else is looked at, so too many of them would test only that).
const key = fc.oneof(
  { arbitrary: fc.constantFrom(...KEYS), weight: 6 },
  { arbitrary: fc.string({ minLength: 1, maxLength: 30 }).map((k) => `org.openeuler.micrun.${k}`), weight: 1 },
  { arbitrary: fc.constantFrom('io.kubernetes.cri.container-type', 'io.kubernetes.cri.sandbox-id', 'unrelated.example/key'), weight: 1 },
);
const annotations = fc.dictionary(key, value, { maxKeys: 3 });
const optional = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const spec = fc.record({
  annotations,
  args: optional(fc.array(fc.oneof(fc.constantFrom('/firmware.elf', 'firmware.elf', '/missing.elf', '/', ''), fc.string({ maxLength: 20 })), { maxLength: 3 })),
  env: optional(fc.array(fc.oneof(fc.constantFrom('MICRUN_OS=zephyr', 'MICRUN_OS=nope', 'MICRUN_MACHINE=mps2-an385', 'MICRUN_MACHINE=', 'PATH=/bin'), fc.string({ maxLength: 20 })), { maxLength: 3 })),
  cwd: optional(fc.constantFrom('/', '', 'relative', '/deep/er')),
  resources: optional(
    fc.record(
      {
        cpu: fc.record({ cpus: optional(fc.oneof(fc.constantFrom('0', '0-1', '1,0', '7', '-1', 'a', ''), fc.string({ maxLength: 8 }))), shares: optional(fc.integer()), quota: optional(fc.integer()), period: optional(fc.nat()) }, { requiredKeys: [] }),
        memory: fc.record({ limit: optional(fc.oneof(fc.integer(), fc.constantFrom(0, -1, 1, 64 * 1024 * 1024, 2 ** 53))) }, { requiredKeys: [] }),
      },
      { requiredKeys: [] },
    ),
  ),
});

function bundleFor(id: string, s: typeof spec extends fc.Arbitrary<infer S> ? S : never): string {
  const b = path.join(work, 'bundles', id);
  mkdirSync(path.join(b, 'rootfs'), { recursive: true });
  copyFileSync(firmwarePath('echo'), path.join(b, 'rootfs', 'firmware.elf'));
  const process_: Record<string, unknown> = {};
  if (s.args !== undefined) process_.args = s.args;
  if (s.env !== undefined) process_.env = s.env;
  if (s.cwd !== undefined) process_.cwd = s.cwd;
  const config: Record<string, unknown> = { ociVersion: '1.0.2', root: { path: 'rootfs' }, process: process_, annotations: s.annotations };
  if (s.resources !== undefined) config.linux = { resources: s.resources };
  writeFileSync(path.join(b, 'config.json'), JSON.stringify(config));
  return b;
}

async function call(method: string, payload: Uint8Array): Promise<{ code?: number; message?: string } | undefined> {
  try {
    await client!.call(TASK, method, payload, { timeoutMs: 20_000 });
    return undefined;
  } catch (err) {
    return err as { code?: number; message?: string };
  }
}

const list = (dir: string) => {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
};

beforeAll(async () => {
  sim = await startMicadSim();
  const b = path.join(work, 'daemon-bundle');
  mkdirSync(b, { recursive: true });
  writeFileSync(path.join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2' }));
  // One daemon serves every Create (a pod's daemon does the same): ids are new each run.
  const started = await run(process.execPath, [SHIM, '-namespace', 'prop', '-address', path.join(work, 'containerd.sock'), '-publish-binary', '/bin/true', '-id', 'prop-daemon', 'start'], {
    cwd: b,
    env: { ...process.env, MICRUN_SHIM_SOCKET_DIR: socketDir, MICRUN_STATE_DIR: stateDir, MICRUN_MICA_SOCKET_DIR: sim.socketDir, TTRPC_ADDRESS: path.join(work, 'nobody.sock') },
  });
  expect(started.code, started.stderr).toBe(0);
  client = await TtrpcClient.connect(started.stdout.trim().slice('unix://'.length));
});

afterAll(async () => {
  client?.close();
  await stopShimDaemons(socketDir);
  await sim?.stop();
  rmSync(work, { recursive: true, force: true });
});

test(`Create over generated specs and annotations: success that Delete undoes, or a coded error that leaves nothing (${RUNS} runs)`, async () => {
  let n = 0;
  const outcomes = { created: 0, refused: new Map<number, number>() };
  await fc.assert(
    fc.asyncProperty(spec, async (s) => {
      const id = `p${n++}`;
      const bundle = bundleFor(id, s);
      const err = await call('Create', T.CreateTaskRequest.encode({ id, bundle, stdin: '', stdout: '', stderr: '', terminal: false }).finish());
      if (err === undefined) {
        outcomes.created++;
        expect(await call('Delete', T.DeleteRequest.encode({ id }).finish())).toBeUndefined();
      } else {
        expect(err.code, err.message).not.toBe(Code.Unknown);
        expect(Object.values(Code), err.message).toContain(err.code);
        expect(err.message?.length, 'an actionable message').toBeGreaterThan(0);
        outcomes.refused.set(err.code!, (outcomes.refused.get(err.code!) ?? 0) + 1);
      }
      expect(list(path.join(stateDir, 'containers'))).toEqual([]);
      await waitFor(() => !micadInstances(sim!.socketDir).includes(`${id}.socket`), { what: `no instance ${id}`, timeoutMs: 5_000 });
      rmSync(bundle, { recursive: true, force: true });
    }),
    { numRuns: RUNS, seed: 20261201, endOnFailure: true },
  );
  console.log(`property runs: ${n}, created ${outcomes.created}, refused by code ${JSON.stringify(Object.fromEntries(outcomes.refused))}`);
  // The generator reaches both sides: some inputs are accepted, some refused.
  expect(outcomes.created).toBeGreaterThan(0);
  expect(outcomes.refused.size).toBeGreaterThan(0);
});
