import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container';
import { unavailable } from '../../src/errors';
import { sweepOrphans } from '../../src/runtime/orphan-sweep';
import { FileStateStore } from '../../src/runtime/state-store';
import { FakeMica } from './fake-mica';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-sweep-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string, bundle: string): ContainerRecord => ({
  id,
  namespace: 'default',
  bundle,
  kind: 'app',
  instance: id,
  state: 'running',
  pid: 1,
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
  const cleaned = await sweepOrphans({ store, mica, log, isServed: (id) => id === 'served' });
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
  expect(await sweepOrphans({ store, mica, log, isServed: () => false })).toEqual([]);
  expect(await store.list()).toEqual(['stuck']);
});
