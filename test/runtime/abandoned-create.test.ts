// Regression (the fault storm's idle pod daemon): containerd gives a Create up when its client
// goes away mid-`ctr run` — it deletes the task (the shim answers NotFound: the container is not
// registered yet), closes the connection and removes the bundle, without waiting for the reply.
// The Create kept running and then registered a container nobody would ever delete, which held
// its daemon for ever. Now a Delete that arrives during the Create marks it, and the Create undoes
// itself when it ends: no instance, no record, nothing registered, the runtime idle.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { CodedError, Code } from '../../src/errors';
import { sweepOrphans } from '../../src/runtime/orphan-sweep';
import { FileStateStore } from '../../src/runtime/state-store';
import type { CallOptions, CreateParams } from '../../src/mica/types';
import type { Runtime } from '../../src/runtime/runtime';
import { NO_STDIO, writeBundle } from './bundle-fixture';
import { FakeMica } from './fake-mica';
import { newTestRuntime } from './test-runtime';

/** A micad whose create waits until the test opens the gate (a reply still on its way). */
class GatedMica extends FakeMica {
  private opened!: () => void;
  private gate = new Promise<void>((r) => (this.opened = r));
  reached!: Promise<void>;
  private reach!: () => void;
  constructor() {
    super();
    this.reached = new Promise((r) => (this.reach = r));
  }
  override async create(params: CreateParams, opts?: CallOptions): Promise<void> {
    this.reach();
    await this.gate;
    return super.create(params, opts);
  }
  open(): void {
    this.opened();
  }
}

let dir: string;
let stateDir: string;
let mica: GatedMica;
let runtime: Runtime;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-abandoned-'));
  stateDir = path.join(dir, 'state');
  mica = new GatedMica();
  runtime = newTestRuntime({ mica, stateDir, pid: 7 });
});
afterEach(() => {
  runtime.close();
  rmSync(dir, { recursive: true, force: true });
});

const create = (id: string, annotations?: Record<string, string>) =>
  runtime.create({ id, bundle: writeBundle(path.join(dir, 'bundles', id), { annotations }), rootfs: [], stdio: NO_STDIO });
const records = () => (existsSync(path.join(stateDir, 'containers')) ? readdirSync(path.join(stateDir, 'containers')) : []);

/** A rejection with this gRPC code (a CodedError, as the wire sees it). */
const failsWith = (p: Promise<unknown>, code: Code) => expect(p).rejects.toMatchObject({ name: 'CodedError', code });

describe('a Create that containerd deleted while it ran', () => {
  test('Delete answers NotFound at once; the Create then undoes itself and fails: nothing left, runtime idle', async () => {
    const creating = create('c1');
    await mica.reached;
    expect(runtime.isCreating()).toBe(true);
    await failsWith(runtime.delete('c1'), Code.NotFound);
    mica.open();
    await failsWith(creating, Code.Cancelled);
    expect(mica.instances.size).toBe(0);
    expect(mica.calls).toContain('rm c1');
    expect(records()).toEqual([]);
    expect(runtime.containers.size).toBe(0);
    expect(runtime.isIdle()).toBe(true);
  });

  test('the mark goes with that Create: the same id created again afterwards is kept', async () => {
    const first = create('c1');
    await mica.reached;
    await failsWith(runtime.delete('c1'), Code.NotFound);
    mica.open();
    await failsWith(first, Code.Cancelled);
    const again = await create('c1');
    expect(again.id).toBe('c1');
    expect(runtime.containers.size).toBe(1);
    expect(records()).toEqual(['c1']);
  });

  test("a Delete while the shim still opens the task's IO (prepare) counts too", async () => {
    mica.open();
    let ioOpened!: () => void;
    let reached!: () => void;
    const inPrepare = new Promise<void>((r) => (reached = r));
    const creating = runtime.create({
      id: 'c2',
      bundle: writeBundle(path.join(dir, 'bundles', 'c2')),
      rootfs: [],
      stdio: NO_STDIO,
      prepare: () => new Promise<void>((r) => ((ioOpened = r), reached())),
    });
    await inPrepare;
    await failsWith(runtime.delete('c2'), Code.NotFound);
    ioOpened();
    await failsWith(creating, Code.Cancelled);
    expect(mica.instances.size).toBe(0);
    expect(records()).toEqual([]);
    expect(runtime.isIdle()).toBe(true);
  });

  test('undoing it fails (micad rm refused): the Create still fails Cancelled and the runtime is idle; the record is left to the orphan sweep', async () => {
    const creating = create('c3');
    await mica.reached;
    await failsWith(runtime.delete('c3'), Code.NotFound);
    mica.failRemove = new CodedError(Code.Unavailable, 'micad: rm timed out');
    mica.open();
    await failsWith(creating, Code.Cancelled);
    // Registered, it would hold the daemon for ever with nobody to delete it.
    expect(runtime.containers.size).toBe(0);
    expect(runtime.isIdle()).toBe(true);
    expect(records()).toEqual(['c3']);
    // containerd removed the bundle when it gave the Create up: the sweep judges it an orphan.
    rmSync(path.join(dir, 'bundles', 'c3'), { recursive: true, force: true });
    mica.failRemove = undefined;
    const log = { info: () => {}, warn: () => {} };
    const cleaned = await sweepOrphans({ store: new FileStateStore(stateDir), mica, isServed: (id) => runtime.containers.has(id), log });
    expect(cleaned).toEqual(['c3']);
    expect(mica.instances.size).toBe(0);
    expect(records()).toEqual([]);
  });

  test('a Delete of an id nobody creates is a plain NotFound and marks nothing', async () => {
    await failsWith(runtime.delete('ghost'), Code.NotFound);
    mica.open();
    await create('ghost');
    expect(runtime.containers.size).toBe(1);
  });
});
