import { mkdtempSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ContainerRecord } from '../../src/runtime/container';
import { containerDir, FileStateStore } from '../../src/runtime/state-store';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-state-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const record = (id: string, n = 0): ContainerRecord => ({
  id,
  namespace: 'default',
  bundle: `/bundles/${id}`,
  kind: 'app',
  instance: id,
  state: 'running',
  pid: n,
  stdio: { stdin: '', stdout: '/fifo/out', stderr: '', terminal: false },
  createdAt: new Date(0).toISOString(),
});

describe('FileStateStore', () => {
  test('save then load returns the record from <state_dir>/containers/<id>/state.json', async () => {
    const store = new FileStateStore(dir);
    await store.save(record('a', 1));
    expect(existsSync(path.join(dir, 'containers', 'a', 'state.json'))).toBe(true);
    expect(await store.load('a')).toEqual(record('a', 1));
    expect(await store.list()).toEqual(['a']);
  });

  test('a missing record loads as undefined; remove is idempotent and takes staged files along', async () => {
    const store = new FileStateStore(dir);
    expect(await store.load('nope')).toBeUndefined();
    await store.save(record('b'));
    writeFileSync(path.join(containerDir(dir, 'b'), 'firmware.elf'), 'x');
    await store.remove('b');
    await store.remove('b');
    expect(existsSync(containerDir(dir, 'b'))).toBe(false);
  });

  test('concurrent saves never expose a torn file and leave no temp files', async () => {
    const store = new FileStateStore(dir);
    await store.save(record('c', 0));
    let reads = 0;
    let stop = false;
    const reader = (async () => {
      while (!stop) {
        const r = await store.load('c'); // JSON.parse throws on a torn file
        expect(r?.id).toBe('c');
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 50 }, (_, i) => store.save(record('c', i + 1))));
    stop = true;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect(readdirSync(containerDir(dir, 'c'))).toEqual(['state.json']);
    const final = await store.load('c');
    expect(final!.pid).toBeGreaterThanOrEqual(1);
  });

  test('a temp file left by a crash mid-write does not shadow the last complete record', async () => {
    const store = new FileStateStore(dir);
    await store.save(record('d', 7));
    writeFileSync(path.join(containerDir(dir, 'd'), '.state.json.999.crash'), '{"id": "d", "pid":');
    expect((await store.load('d'))!.pid).toBe(7);
  });
});
