import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container';
import { unavailable } from '../../src/errors';
import { isShimDaemon, sweepOrphans } from '../../src/runtime/orphan-sweep';
import { FileStateStore } from '../../src/runtime/state-store';
import { FakeMica } from './fake-mica';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-sweep-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string, bundle: string, pid = 1): ContainerRecord => ({
  id,
  namespace: 'default',
  bundle,
  kind: 'app',
  instance: id,
  state: 'running',
  pid,
  stdio: { stdin: '', stdout: '', stderr: '', terminal: false },
  createdAt: '',
});

const log = { info() {}, warn() {} };

test('records whose bundle is gone are cleaned up (instance removed, state dropped); live ones are kept', async () => {
  const store = new FileStateStore(path.join(dir, 'state'));
  const mica = new FakeMica();
  const liveBundle = path.join(dir, 'bundles', 'live');
  mkdirSync(liveBundle, { recursive: true });
  for (const id of ['gone', 'live', 'served']) {
    await store.save(record(id, id === 'gone' ? path.join(dir, 'bundles', 'gone') : liveBundle));
    await mica.create({ name: id, firmwarePath: '/fw' });
  }
  await store.save(record('served', path.join(dir, 'bundles', 'nope'))); // served by us: untouched
  const cleaned = await sweepOrphans({ store, mica, log, isServed: (id) => id === 'served', daemonAlive: () => true });
  expect(cleaned).toEqual(['gone']);
  expect([...mica.instances.keys()].sort()).toEqual(['live', 'served']);
  expect((await store.list()).sort()).toEqual(['live', 'served']);
});

test('a failing cleanup keeps the record for the next try', async () => {
  const store = new FileStateStore(path.join(dir, 'state'));
  const mica = new FakeMica();
  await store.save(record('stuck', path.join(dir, 'bundles', 'stuck')));
  await mica.create({ name: 'stuck', firmwarePath: '/fw' });
  mica.remove = async () => {
    throw unavailable('micad is not running');
  };
  expect(await sweepOrphans({ store, mica, log, isServed: () => false, daemonAlive: () => true })).toEqual([]);
  expect(await store.list()).toEqual(['stuck']);
});

test('a record whose daemon died is an orphan even while containerd still holds its bundle (its delete was killed)', async () => {
  const store = new FileStateStore(path.join(dir, 'state'));
  const mica = new FakeMica();
  const bundle = path.join(dir, 'bundles', 'kept');
  mkdirSync(bundle, { recursive: true });
  await store.save(record('dead-daemon', bundle, 4001));
  await store.save(record('live-daemon', bundle, 4002));
  for (const id of ['dead-daemon', 'live-daemon']) await mica.create({ name: id, firmwarePath: '/fw' });
  const cleaned = await sweepOrphans({ store, mica, log, isServed: () => false, daemonAlive: (pid) => pid === 4002 });
  expect(cleaned).toEqual(['dead-daemon']);
  expect([...mica.instances.keys()]).toEqual(['live-daemon']);
  expect(await store.list()).toEqual(['live-daemon']);
});

test('isShimDaemon: a running shim process is alive; a dead pid, or one reused by another program, is not', async () => {
  // A process whose argv[0] is the shim's name, as a daemon's command line names the shim.
  const shim = spawn('bash', ['-c', 'exec -a containerd-shim-mica-v2 sleep 30'], { stdio: 'ignore' });
  await new Promise((resolve) => shim.once('spawn', resolve));
  try {
    await expect.poll(() => isShimDaemon(shim.pid!)).toBe(true);
  } finally {
    shim.kill('SIGKILL');
    await new Promise((resolve) => shim.once('exit', resolve));
  }
  expect(isShimDaemon(shim.pid!)).toBe(false); // reaped: no such process
  expect(isShimDaemon(process.pid)).toBe(false); // alive, but not a shim: a reused pid
  expect(isShimDaemon(0)).toBe(true); // unknown: only a vanished bundle decides
});
