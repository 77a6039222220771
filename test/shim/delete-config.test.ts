// `delete` gets no runtime options, yet must use the config `start` chose from them (its state
// dir holds the record): it reads the path `start` recorded in the bundle.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { containerd } from '../../src/proto';
import { FileStateStore } from '../../src/runtime/state-store';
import type { ShimArgs } from '../../src/shim/args';
import { rememberConfigPath, rememberedConfigPath } from '../../src/shim/config-choice';
import { runDelete } from '../../src/shim/delete';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-delete-cfg-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const args = (id: string, bundle: string): ShimArgs => ({
  namespace: 'ns', address: '/run/x.sock', publishBinary: '/bin/true', id, bundle, debug: false, socket: '', action: 'delete',
});

test('delete finds the record in the state dir of the config the runtime options chose, not $MICRUN_CONFIG\'s', async () => {
  const chosenState = path.join(dir, 'state-xen');
  const chosen = path.join(dir, 'xen.toml');
  writeFileSync(chosen, `[runtime]\nstate_dir = "${chosenState}"\n`);
  const envConfig = path.join(dir, 'node.toml');
  writeFileSync(envConfig, `[runtime]\nstate_dir = "${path.join(dir, 'state-node')}"\n`);
  const bundle = path.join(dir, 'bundle');
  mkdirSync(bundle);
  rememberConfigPath(bundle, chosen);
  expect(rememberedConfigPath(bundle)).toBe(chosen);
  await new FileStateStore(chosenState).save({
    id: 'pod-1', namespace: 'ns', bundle, kind: 'infra', instance: '', state: 'stopped', pid: 42,
    stdio: { stdin: '', stdout: '', stderr: '', terminal: false }, exitStatus: 0, exitedAt: new Date(1_000).toISOString(), createdAt: new Date(0).toISOString(),
  });
  const reply = containerd.task.v2.DeleteResponse.decode(await runDelete(args('pod-1', bundle), { MICRUN_CONFIG: envConfig }));
  expect(reply.pid).toBe(42); // the record was found
  expect(existsSync(path.join(chosenState, 'containers', 'pod-1'))).toBe(false);
});

test('without a recorded choice nothing is read from the bundle', () => {
  const bundle = path.join(dir, 'plain');
  mkdirSync(bundle);
  rememberConfigPath(bundle, '');
  expect(rememberedConfigPath(bundle)).toBeUndefined();
});
