// Regression (issue 11 item 3): container ids became state-dir paths unchecked, so an id of ".."
// turned Create's undo into a recursive remove of the whole state dir. The id is validated where
// it becomes a path (containerDir); nothing outside <state_dir>/containers is ever named.
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { containerDir, FileStateStore } from '../../src/runtime/state-store';
import type { ContainerRecord } from '../../src/runtime/container';
import type { Runtime } from '../../src/runtime/runtime';
import { writeBundle, NO_STDIO } from './bundle-fixture';
import { FakeMica } from './fake-mica';
import { newTestRuntime } from './test-runtime';

const BAD_IDS: [string, string][] = [
  ['..', 'parent directory'],
  ['.', 'the directory itself'],
  ['a/../../x', 'a path'],
  ['/etc', 'an absolute path'],
  ['a\0b', 'NUL'],
  ['', 'empty'],
  ['x'.repeat(77), 'over 76 characters'],
];

let dir: string;
let stateDir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-ids-'));
  stateDir = path.join(dir, 'state');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<number | undefined> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    return err instanceof CodedError ? err.code : -1;
  }
  return undefined;
}

describe('containerDir', () => {
  test.each(BAD_IDS)('refuses %j (%s) with InvalidArgument', async (id) => {
    expect(await codeOf(() => containerDir(stateDir, id))).toBe(Code.InvalidArgument);
  });

  test('accepts containerd identifiers, including a 76-character one and CRI ids', () => {
    for (const id of ['c1', 'my-app_1.2', 'x'.repeat(76), 'a'.repeat(64)]) {
      expect(containerDir(stateDir, id)).toBe(path.join(stateDir, 'containers', id));
    }
  });
});

describe('the state store never names a path outside <state_dir>/containers', () => {
  test.each(BAD_IDS)('save/load/remove of %j (%s) are InvalidArgument and touch nothing', async (id) => {
    const store = new FileStateStore(stateDir);
    await store.save({ id: 'keep', state: 'created' } as ContainerRecord);
    writeFileSync(path.join(dir, 'precious'), 'x');
    expect(await codeOf(store.save({ id, state: 'created' } as ContainerRecord))).toBe(Code.InvalidArgument);
    expect(await codeOf(store.load(id))).toBe(Code.InvalidArgument);
    expect(await codeOf(store.remove(id))).toBe(Code.InvalidArgument);
    expect(readdirSync(path.join(stateDir, 'containers'))).toEqual(['keep']);
    expect(existsSync(path.join(dir, 'precious'))).toBe(true);
  });
});

describe('Create with an id that cannot name a directory', () => {
  let runtime: Runtime;
  let mica: FakeMica;
  beforeEach(() => {
    mica = new FakeMica();
    runtime = newTestRuntime({ mica, stateDir, pid: 1 });
  });
  afterEach(() => runtime.close());

  test('regression: Create of ".." fails InvalidArgument and leaves the state dir and the other containers intact', async () => {
    await runtime.create({ id: 'other', bundle: writeBundle(path.join(dir, 'b-other')), rootfs: [], stdio: NO_STDIO });
    const bundle = writeBundle(path.join(dir, 'b-dotdot'), { firmware: Buffer.from('not an elf') }); // a later step would fail
    expect(await codeOf(runtime.create({ id: '..', bundle, rootfs: [], stdio: NO_STDIO }))).toBe(Code.InvalidArgument);
    expect(existsSync(path.join(stateDir, 'containers', 'other', 'state.json'))).toBe(true);
    expect(existsSync(path.join(stateDir, 'containers', 'other', 'firmware.elf'))).toBe(true);
    expect([...mica.instances.keys()]).toEqual(['other']);
  });

  test('createSandbox with a bad id is InvalidArgument and registers nothing', async () => {
    expect(await codeOf(runtime.createSandbox({ id: '../pod', bundle: dir, annotations: {} }))).toBe(Code.InvalidArgument);
    expect(runtime.containers.size).toBe(0);
  });
});
