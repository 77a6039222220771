// The native launcher (native/launcher, built by build:native): it answers `start` itself only for
// a live daemon under grouping "namespace", with the same address the Node path computes (the
// shared vectors of test/fixtures/socket-address-vectors.json), and `delete` only when nothing is
// left to clean, with the reply the Node path gives then; it hands everything else to the Node
// shim beside it. Here the Node shim is a stand-in script that reports what it was given,
// so that every hand-over is visible; the real pair runs in test/e2e/shim-shared-daemon.test.ts.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import vectors from '../fixtures/socket-address-vectors.json';
import { bootstrapOutput } from '../../src/shim/bootstrap';
import { containerd } from '../../src/proto';

const built = path.resolve(__dirname, '../../native/build/Release/containerd-shim-mica-v2');
const work = mkdtempSync(path.join(tmpdir(), 'micrun-launcher-'));
const bin = path.join(work, 'bin');
const launcher = path.join(bin, 'containerd-shim-mica-v2');
const root = path.join(work, 's');
const servers: net.Server[] = [];

beforeAll(() => {
  mkdirSync(bin);
  mkdirSync(root);
  copyFileSync(built, launcher);
  // Stand-in for dist/containerd-shim-mica-v2.js: prints "node" with its argv and stdin.
  writeFileSync(
    path.join(bin, 'containerd-shim-mica-v2.js'),
    "process.stdout.write(JSON.stringify({ node: process.argv.slice(2), stdin: require('fs').readFileSync(0).toString('hex') }));\n",
  );
});
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

let n = 0;
function bundle(): string {
  const dir = path.join(work, `bundle-${n++}`);
  mkdirSync(dir);
  return dir;
}

async function liveDaemonAt(socket: string): Promise<void> {
  const server = net.createServer((c) => c.destroy());
  servers.push(server);
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(socket, resolve));
}

function launchRaw(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer; cwd?: string } = {}) {
  return spawnSync(launcher, args, {
    env: { PATH: process.env.PATH, MICRUN_CONFIG: path.join(work, 'absent.toml'), MICRUN_SHIM_SOCKET_DIR: root, ...opts.env },
    input: opts.input ?? Buffer.alloc(0),
    cwd: opts.cwd,
  });
}
function launch(args: string[], opts: { env?: NodeJS.ProcessEnv; input?: Buffer; cwd?: string } = {}) {
  const r = launchRaw(args, opts);
  return { code: r.status, out: r.stdout.toString(), err: r.stderr.toString() };
}
const startArgs = (c: { address: string; namespace: string; id: string }, b: string) => [
  '-namespace', c.namespace, '-address', c.address, '-publish-binary', '/usr/bin/containerd', '-id', c.id, '-bundle', b, 'start',
];
const byNode = (out: string) => JSON.parse(out) as { node: string[]; stdin: string };

describe('the shim launcher', () => {
  const namespaceCases = vectors.cases.filter((c) => c.grouping === 'namespace');
  const podCases = vectors.cases.filter((c) => c.grouping === 'pod');

  test.each(namespaceCases)('shared vector, live daemon: answers itself with the Node path\'s address ($what)', async (c) => {
    const socket = path.join(root, c.socket);
    await liveDaemonAt(socket);
    const b = bundle();
    // MICRUN_CONFIG names no file here, which Node would refuse: use a real one for the grouping.
    const config = path.join(work, `grouping-${n}.toml`);
    writeFileSync(config, '# shared daemons\n[runtime]\nlog_level = "info"\n\n[shim]\ngrouping = "namespace" # per namespace\n');
    const r = launch(startArgs(c, b), { env: { MICRUN_CONFIG: config } });
    expect(r).toEqual({ code: 0, out: `unix://${socket}`, err: '' });
    expect(readFileSync(path.join(b, 'address'), 'utf8')).toBe(`unix://${socket}`);
  });

  test.each(podCases)('shared vector, grouping pod: hands start to Node ($what)', async (c) => {
    await liveDaemonAt(path.join(root, c.socket));
    const b = bundle();
    const r = launch(startArgs(c, b), { env: { MICRUN_SHIM_GROUPING: 'pod', MICRUN_CONFIG: '' } });
    expect(byNode(r.out).node).toEqual(startArgs(c, b));
  });

  const ns = namespaceCases[0]!;
  const env = { MICRUN_SHIM_GROUPING: 'namespace', MICRUN_CONFIG: '' };

  test('no config file and no environment: grouping namespace, the default, is answered natively', async () => {
    const socket = path.join(root, ns.socket);
    await liveDaemonAt(socket);
    expect(launch(startArgs(ns, bundle()), { env: { MICRUN_CONFIG: '' } }).out).toBe(`unix://${socket}`);
  });

  test('no daemon yet, or a stale socket file: Node spawns one', () => {
    expect(byNode(launch(startArgs(ns, bundle()), { env }).out).node).toContain('start');
    writeFileSync(path.join(root, ns.socket), ''); // a file nobody listens on
    expect(byNode(launch(startArgs(ns, bundle()), { env }).out).node).toContain('start');
    rmSync(path.join(root, ns.socket));
  });

  test('runtime options on stdin reach Node unchanged', async () => {
    await liveDaemonAt(path.join(root, ns.socket));
    const options = Buffer.from([0x0a, 0x03, 0x61, 0x62, 0x63, 0x12, 0x00]);
    const r = launch(startArgs(ns, bundle()), { env, input: options });
    expect(byNode(r.out).stdin).toBe(options.toString('hex'));
  });

  test('shim.bootstrap json-v2 / json-v3: the same JSON the Node path prints', async () => {
    const socket = path.join(root, ns.socket);
    await liveDaemonAt(socket);
    for (const form of ['json-v2', 'json-v3'] as const) {
      const config = path.join(work, `${form}.toml`);
      writeFileSync(config, `[shim]\nbootstrap = "${form}"\ngrouping = "namespace"\n`);
      const r = launch(startArgs(ns, bundle()), { env: { MICRUN_CONFIG: config } });
      expect(r.out).toBe(bootstrapOutput(`unix://${socket}`, form));
    }
  });

  test('a config it cannot read with certainty, an unknown flag, other actions: all go to Node', async () => {
    await liveDaemonAt(path.join(root, ns.socket));
    const dotted = path.join(work, 'dotted.toml');
    writeFileSync(dotted, 'shim.grouping = "namespace"\n');
    expect(byNode(launch(startArgs(ns, bundle()), { env: { MICRUN_CONFIG: dotted } }).out).node).toContain('start');
    const b = bundle();
    expect(byNode(launch(['-fancy', 'x', ...startArgs(ns, b)], { env }).out).node[0]).toBe('-fancy');
    expect(byNode(launch(['-id', 'x', '-bundle', b, 'delete'], { env }).out).node).toEqual(['-id', 'x', '-bundle', b, 'delete']);
    expect(byNode(launch(['-v'], { env }).out).node).toEqual(['-v']);
  });

  test('run under another name (another runtime type, e.g. a wrapper): Node decides the group', async () => {
    await liveDaemonAt(path.join(root, ns.socket));
    const other = path.join(bin, 'containerd-shim-micaxen-v2');
    symlinkSync(launcher, other);
    const r = spawnSync(other, startArgs(ns, bundle()), { env: { PATH: process.env.PATH, MICRUN_SHIM_SOCKET_DIR: root, ...env } });
    expect(byNode(r.stdout.toString()).node).toContain('start');
  });

  test('an unwritable bundle: Node reports the error', async () => {
    await liveDaemonAt(path.join(root, ns.socket));
    expect(byNode(launch(startArgs(ns, path.join(work, 'no-such-bundle')), { env }).out).node).toContain('start');
  });

  test('without -bundle the working directory is the bundle (as containerd runs start)', async () => {
    const socket = path.join(root, ns.socket);
    await liveDaemonAt(socket);
    const b = bundle();
    const args = startArgs(ns, b).filter((a, i, all) => a !== '-bundle' && all[i - 1] !== '-bundle');
    expect(launch(args, { env, cwd: b }).out).toBe(`unix://${socket}`);
    expect(readFileSync(path.join(b, 'address'), 'utf8')).toBe(`unix://${socket}`);
  });
});

describe('the shim launcher, delete', () => {
  const stateDir = path.join(work, 'state');
  const env = { MICRUN_CONFIG: '', MICRUN_STATE_DIR: stateDir };
  const deleteArgs = (id: string, b: string) => [
    '-namespace', 'default', '-address', '/run/containerd/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', id, '-bundle', b, 'delete',
  ];
  /** The launcher's own reply, decoded; fails the test when Node got the call instead. */
  const nativeReply = (r: ReturnType<typeof launchRaw>) => {
    expect(r.stdout.toString()).not.toMatch(/"node"/);
    expect({ code: r.status, err: r.stderr.toString() }).toEqual({ code: 0, err: '' });
    return containerd.task.v2.DeleteResponse.decode(r.stdout);
  };

  test('nothing left to clean (the daemon deleted the container): answers itself like Node does for a missing record', () => {
    const before = Date.now();
    const reply = nativeReply(launchRaw(deleteArgs('gone', bundle()), { env }));
    // src/shim/delete.ts with no record: pid 0, exit 137, exited now.
    expect(reply.pid).toBe(0);
    expect(reply.exitStatus).toBe(137);
    const exitedMs = Number(reply.exitedAt!.seconds) * 1000 + (reply.exitedAt!.nanos ?? 0) / 1e6;
    expect(exitedMs).toBeGreaterThanOrEqual(before - 1);
    expect(exitedMs).toBeLessThanOrEqual(Date.now() + 1);
  });

  test('the bundle\'s address names a live daemon (a shared one): still nothing to clean', async () => {
    const b = bundle();
    const socket = path.join(root, 'live-for-delete');
    await liveDaemonAt(socket);
    writeFileSync(path.join(b, 'address'), `unix://${socket}`);
    expect(nativeReply(launchRaw(deleteArgs('gone', b), { env })).exitStatus).toBe(137);
  });

  test('a state record left (the daemon died): Node cleans it', () => {
    const b = bundle();
    mkdirSync(path.join(stateDir, 'containers', 'crashed'), { recursive: true });
    expect(byNode(launch(deleteArgs('crashed', b), { env }).out).node).toEqual(deleteArgs('crashed', b));
  });

  test('a stale socket in the bundle\'s address: Node removes it', () => {
    const b = bundle();
    const socket = path.join(root, 'stale-for-delete');
    writeFileSync(socket, '');
    writeFileSync(path.join(b, 'address'), `unix://${socket}`);
    expect(byNode(launch(deleteArgs('gone', b), { env }).out).node).toContain('delete');
  });

  test('the rootfs still mounted: Node unmounts it', () => {
    const b = bundle();
    const rootfs = path.join(b, 'rootfs');
    mkdirSync(rootfs);
    const mounted = spawnSync('mount', ['-t', 'tmpfs', 'micrun-test', rootfs]);
    expect(mounted.status, mounted.stderr?.toString()).toBe(0);
    try {
      expect(byNode(launch(deleteArgs('gone', b), { env }).out).node).toContain('delete');
    } finally {
      spawnSync('umount', [rootfs]);
    }
    expect(nativeReply(launchRaw(deleteArgs('gone', b), { env })).exitStatus).toBe(137);
  });

  test('the state dir comes from the config start remembered in the bundle, then MICRUN_STATE_DIR', () => {
    const remembered = path.join(work, 'remembered-state');
    mkdirSync(path.join(remembered, 'containers', 'kept'), { recursive: true });
    const config = path.join(work, 'remembered.toml');
    writeFileSync(config, `[runtime]\nstate_dir = "${remembered}" # from the runtime options\n`);
    const b = bundle();
    writeFileSync(path.join(b, 'micrun-config-path'), config);
    expect(byNode(launch(deleteArgs('kept', b), { env: { MICRUN_CONFIG: '' } }).out).node).toContain('delete');
    // The environment wins over the file, as in src/config: there, no record of "kept".
    expect(nativeReply(launchRaw(deleteArgs('kept', b), { env })).exitStatus).toBe(137);
  });

  test('a remembered config that is gone, or one it cannot read with certainty: Node reports or decides', () => {
    const gone = bundle();
    writeFileSync(path.join(gone, 'micrun-config-path'), path.join(work, 'no-such.toml'));
    expect(byNode(launch(deleteArgs('x', gone), { env: { MICRUN_CONFIG: '' } }).out).node).toContain('delete');
    const dotted = path.join(work, 'dotted-state.toml');
    writeFileSync(dotted, 'runtime.state_dir = "/tmp"\n');
    expect(byNode(launch(deleteArgs('x', bundle()), { env: { MICRUN_CONFIG: dotted } }).out).node).toContain('delete');
    const relative = path.join(work, 'relative-state.toml');
    writeFileSync(relative, '[runtime]\nstate_dir = "run/micrun"\n');
    expect(byNode(launch(deleteArgs('x', bundle()), { env: { MICRUN_CONFIG: relative } }).out).node).toContain('delete');
  });

  test.each(['..', '.', 'a..b', '-a', 'a/b', 'x'.repeat(77)])('an id Node refuses (%s): Node says why', (id) => {
    expect(byNode(launch(deleteArgs(id, bundle()), { env }).out).node).toContain('delete');
  });
});
