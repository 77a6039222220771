// Regression (issue 11 items 5 and 9): raw node:fs errors escaped from the state store, firmware
// staging and rootfs code and reached containerd as Unknown; a failed save left its temp file;
// concurrent saves of one container could be renamed out of order. Each fs failure now carries
// the gRPC code for its errno where it arises, and the store cleans up and orders its writes.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { Code, CodedError, fsError, notFound } from '../../src/errors';
import { findFirmware, stageFirmware } from '../../src/oci/firmware';
import { mountRootfs } from '../../src/oci/rootfs';
import type { ContainerRecord } from '../../src/runtime/container';
import { FileStateStore } from '../../src/runtime/state-store';
import { writeBundle, NO_STDIO } from './bundle-fixture';
import { FakeMica } from './fake-mica';
import { newTestRuntime } from './test-runtime';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-fserr-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });
const record = (id: string, pid = 1) => ({ id, pid, state: 'created' }) as ContainerRecord;

async function rejection(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CodedError) return err;
    throw new Error(`expected a CodedError, got ${String(err)}`);
  }
  throw new Error('expected a rejection');
}

describe('fsError', () => {
  test.each([
    ['ENOENT', Code.NotFound],
    ['EEXIST', Code.AlreadyExists],
    ['EACCES', Code.PermissionDenied],
    ['EPERM', Code.PermissionDenied],
    ['ENOSPC', Code.ResourceExhausted],
    ['EDQUOT', Code.ResourceExhausted],
    ['EMFILE', Code.ResourceExhausted],
    ['EROFS', Code.FailedPrecondition],
    ['ENOTDIR', Code.FailedPrecondition],
    ['EIO', Code.Internal],
  ])('%s → code %i, message says what was being done', (code, expected) => {
    const err = fsError('save the state of container c1', errno(code));
    expect(err.code).toBe(expected);
    expect(err.message).toBe(`cannot save the state of container c1: ${code}: failed`);
  });

  test('an error that already has a code keeps it', () => {
    const coded = notFound('x');
    expect(fsError('anything', coded)).toBe(coded);
  });
});

describe('FileStateStore failures', () => {
  test('a state dir that is a file fails save with FailedPrecondition, not a raw ENOTDIR', async () => {
    writeFileSync(path.join(dir, 'state'), 'not a directory');
    const store = new FileStateStore(path.join(dir, 'state'));
    const err = await rejection(store.save(record('c1')));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toContain('save the state of container c1');
    expect((await rejection(store.list())).code).toBe(Code.FailedPrecondition);
  });

  test('a save that fails after writing its temp file removes it', async () => {
    const store = new FileStateStore(dir);
    // state.json is a non-empty directory: the rename of the finished temp file fails.
    mkdirSync(path.join(dir, 'containers', 'c1', 'state.json', 'x'), { recursive: true });
    const err = await rejection(store.save(record('c1')));
    expect(err.code).not.toBe(Code.Unknown);
    expect(readdirSync(path.join(dir, 'containers', 'c1'))).toEqual(['state.json']);
  });

  test('a record that is not JSON is DataLoss naming the file', async () => {
    const store = new FileStateStore(dir);
    mkdirSync(path.join(dir, 'containers', 'c1'), { recursive: true });
    writeFileSync(path.join(dir, 'containers', 'c1', 'state.json'), '{"id": "c1", "pid":');
    const err = await rejection(store.load('c1'));
    expect(err.code).toBe(Code.DataLoss);
    expect(err.message).toContain(path.join(dir, 'containers', 'c1', 'state.json'));
  });

  test('regression: concurrent saves of one container leave the last one called on disk', async () => {
    const store = new FileStateStore(dir);
    for (let round = 0; round < 5; round++) {
      await Promise.all(Array.from({ length: 30 }, (_, i) => store.save(record('c1', round * 100 + i))));
      expect((await store.load('c1'))!.pid).toBe(round * 100 + 29);
    }
    expect(readdirSync(path.join(dir, 'containers', 'c1'))).toEqual(['state.json']);
  });

  test('a failed save does not block the next one', async () => {
    const store = new FileStateStore(dir);
    mkdirSync(path.join(dir, 'containers', 'c1', 'state.json', 'x'), { recursive: true });
    const first = store.save(record('c1', 1));
    const second = store.save(record('c1', 2));
    await rejection(first);
    rmSync(path.join(dir, 'containers', 'c1', 'state.json'), { recursive: true });
    await second.catch(() => {}); // may fail too: it was queued before the fix-up
    await store.save(record('c1', 3));
    expect((await store.load('c1'))!.pid).toBe(3);
  });
});

describe('firmware staging and rootfs failures are coded', () => {
  test('staging into a directory below a regular file is FailedPrecondition and leaves nothing', async () => {
    const bundle = writeBundle(path.join(dir, 'bundle'));
    writeFileSync(path.join(dir, 'blocker'), 'x');
    const found = await findFirmware({ rootfs: path.join(bundle, 'rootfs') });
    const err = await rejection(stageFirmware(found, path.join(dir, 'blocker', 'c1'), 1 << 20));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toContain('stage');
  });

  test('a rootfs mount point that cannot be created is FailedPrecondition, not a raw error', async () => {
    writeFileSync(path.join(dir, 'blocker'), 'x');
    const err = await rejection(mountRootfs([{ type: 'bind', source: dir, options: [] }], path.join(dir, 'blocker', 'rootfs')));
    expect(err.code).toBe(Code.FailedPrecondition);
  });

  test('Create with an unusable state dir fails coded and leaves no micad instance', async () => {
    writeFileSync(path.join(dir, 'state'), 'not a directory');
    const mica = new FakeMica();
    const runtime = newTestRuntime({ mica, stateDir: path.join(dir, 'state'), pid: 1 });
    try {
      const err = await rejection(runtime.create({ id: 'c1', bundle: writeBundle(path.join(dir, 'bundle')), rootfs: [], stdio: NO_STDIO }));
      expect(err.code).toBe(Code.FailedPrecondition);
      expect(mica.instances.size).toBe(0);
      expect(runtime.containers.size).toBe(0);
    } finally {
      runtime.close();
    }
  });
});
