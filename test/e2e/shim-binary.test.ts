// The shim binary contract as containerd sees it, with real processes: `start` (prints only the
// address, binds the socket itself and hands it to the daemon, reuses a live daemon, replaces a
// stale socket, fails on a bad config before binding; a daemon dying after start leaves nothing),
// `-info`, `-v`, usage errors, the event order containerd receives, the daemon's log in
// containerd's log, SIGTERM leaving the instance for `delete`, and a pod served by one daemon.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readlinkSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { containerd } from '../../src/proto';
import { socketPath } from '../../src/shim/socket-address';
import { TtrpcClient } from '../../src/ttrpc';
import { distDir, type Containerd } from './harness/containerd';
import { micadInstances, shimDaemons, stopShimDaemons } from './harness/leftovers';
import { describeEachContainerd, useBuildStack } from './harness/matrix';
import { firmwarePath, startMicadSim, type MicadSim } from './harness/micad-sim';
import { isAlive, run, stopChild, waitFor } from './harness/processes';

const SHIM = path.join(distDir, 'containerd-shim-mica-v2.js');
const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:e2e';
const EXIT3 = 'docker.io/micrun-test/exit-3:e2e';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-shim-bin-'));
const stateDir = path.join(work, 'state');
let sim: MicadSim;
let ctd: Containerd;

afterAll(async () => {
  // Daemons the tests below start without containerd, on socket dirs of their own.
  for (const dir of ['s', 's2', 's3']) await stopShimDaemons(path.join(work, dir));
  rmSync(work, { recursive: true, force: true });
});

const instances = () => micadInstances(sim.socketDir);

/** A bundle like containerd's: config.json with annotations, and a log fifo read by us. */
function fakeBundle(id: string, annotations: Record<string, string> = {}): string {
  const b = path.join(work, 'bundles', id);
  mkdirSync(b, { recursive: true });
  writeFileSync(path.join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', annotations }));
  return b;
}

/** Runs the shim and keeps stdout as bytes (protobuf answers). */
function runBytes(argv: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

function shim(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return run(process.execPath, [SHIM, ...args], { cwd: opts.cwd, env: { ...process.env, ...opts.env } });
}

describe('one-shot actions', () => {
  const socketDir = path.join(work, 's');
  // Grouping pod: these pin how `start` groups by id and CRI annotations (still a setting);
  // grouping namespace, the default, is pinned in shim-shared-daemon.test.ts.
  const env = {
    MICRUN_SHIM_SOCKET_DIR: socketDir,
    MICRUN_STATE_DIR: stateDir,
    MICRUN_MICA_SOCKET_DIR: path.join(work, 'no-micad'),
    MICRUN_SHIM_GROUPING: 'pod',
  };
  const flags = (id: string) => ['-namespace', 'ns1', '-address', '/run/x/containerd.sock', '-publish-binary', '/usr/bin/containerd', '-id', id];

  test('start prints exactly unix://<socket>, writes <bundle>/address, and reuses a live daemon', async () => {
    const b = fakeBundle('one');
    const first = await shim([...flags('one'), 'start'], { cwd: b, env });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const expected = `unix://${socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'one')}`;
    expect(first.stdout).toBe(expected);
    expect(readFileSync(path.join(b, 'address'), 'utf8')).toBe(expected);
    const sock = expected.slice('unix://'.length);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect(statSync(socketDir).mode & 0o777).toBe(0o700);
    const daemons = shimDaemons(socketDir);
    expect(daemons).toHaveLength(1);
    // Never containerd's pipes: stdio is /dev/null, and the daemon leads its own session.
    for (const fd of [0, 1, 2]) expect(readlinkSync(`/proc/${daemons[0]}/fd/${fd}`)).toBe('/dev/null');
    const stat = readFileSync(`/proc/${daemons[0]}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[3])).toBe(daemons[0]); // session id == its own pid (setsid)
    const again = await shim([...flags('one'), 'start'], { cwd: b, env });
    expect(again.stdout).toBe(expected);
    expect(shimDaemons(socketDir)).toEqual(daemons);
    // The socket `start` bound is the one the daemon serves (handed over as fd 3).
    const client = await TtrpcClient.connect(sock);
    const err = await client.call('containerd.task.v2.Task', 'NoSuchMethod', new Uint8Array(), { timeoutMs: 10_000 }).then(
      () => ({}),
      (e: { code?: number }) => e,
    );
    client.close();
    expect((err as { code?: number }).code).toBe(12); // Unimplemented: answered by our ttrpc server
    process.kill(daemons[0]!, 'SIGTERM');
    await waitFor(() => !isAlive(daemons[0]!), { what: 'daemon exit on SIGTERM' });
    expect(existsSync(sock)).toBe(false);
  });

  test('a stale socket file is replaced by a fresh daemon', async () => {
    const b = fakeBundle('stale');
    const sock = socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'stale');
    mkdirSync(socketDir, { recursive: true, mode: 0o700 });
    // A socket file nobody listens on (bound by a process that then exited).
    const py = await run('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(sock)})`]);
    expect(py.code, py.stderr).toBe(0);
    expect(existsSync(sock)).toBe(true);
    const r = await shim([...flags('stale'), 'start'], { cwd: b, env });
    expect(r.code, r.stderr).toBe(0);
    const [pid] = shimDaemons(socketDir);
    expect(shimDaemons(socketDir)).toEqual([expect.any(Number)]); // exactly the fresh daemon
    process.kill(pid!, 'SIGTERM');
    await waitFor(() => !isAlive(pid!), { what: 'daemon exit' });
  });

  test('a bad config file makes start fail naming the key, before it binds or spawns anything', async () => {
    const b = fakeBundle('badcfg');
    const cfg = path.join(work, 'bad.toml');
    writeFileSync(cfg, '[mica]\nsocket_dri = "/x"\n');
    const r = await shim([...flags('badcfg'), 'start'], { cwd: b, env: { ...env, MICRUN_CONFIG: cfg } });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/socket_dri/);
    expect(shimDaemons(socketDir)).toEqual([]);
    expect(existsSync(socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'badcfg'))).toBe(false);
    expect(existsSync(path.join(b, 'address'))).toBe(false);
  });

  test('a bundle without config.json (containerd 2.x sandbox) gets a daemon of its own id', async () => {
    const b = path.join(work, 'bundles', 'no-spec');
    mkdirSync(b, { recursive: true });
    const r = await shim([...flags('no-spec'), 'start'], { cwd: b, env });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`unix://${socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'no-spec')}`);
    for (const pid of shimDaemons(socketDir)) {
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !isAlive(pid), { what: 'daemon exit' });
    }
  });

  test('a daemon whose socket path was taken over before anyone connected ends by itself', async () => {
    // Two starts that both found a stale socket may both remove it and bind: the first daemon
    // then listens on a path nobody can dial. It must not idle forever.
    const b = fakeBundle('taken');
    const r = await shim([...flags('taken'), 'start'], { cwd: b, env });
    expect(r.code, r.stderr).toBe(0);
    const sock = r.stdout.slice('unix://'.length);
    const [pid] = shimDaemons(socketDir, 'taken');
    expect(shimDaemons(socketDir, 'taken')).toEqual([expect.any(Number)]);
    rmSync(sock);
    const newer = net.createServer();
    await new Promise<void>((resolve) => newer.listen(sock, resolve));
    try {
      await waitFor(() => !isAlive(pid!), { what: 'the unreachable daemon to exit', timeoutMs: 10_000 });
      expect(existsSync(sock)).toBe(true); // the newer socket is not ours to remove
    } finally {
      await new Promise((resolve) => newer.close(resolve));
    }
  });

  test('a daemon nobody connects to (its ctr client died before Create) ends by itself and removes its socket', async () => {
    // Only a Shutdown ends a daemon, and containerd sends none to a daemon it never used.
    const b = fakeBundle('unused');
    const r = await shim([...flags('unused'), 'start'], { cwd: b, env });
    expect(r.code, r.stderr).toBe(0);
    const sock = r.stdout.slice('unix://'.length);
    const [pid] = shimDaemons(socketDir, 'unused');
    expect(pid).toEqual(expect.any(Number));
    await waitFor(() => !isAlive(pid!), { what: 'the unused daemon to exit', timeoutMs: 60_000 });
    expect(existsSync(sock)).toBe(false);
  });

  test('CRI pod containers get their sandbox daemon address', async () => {
    const pod = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'podX' };
    const b = fakeBundle('app-in-pod', pod);
    const r = await shim([...flags('app-in-pod'), 'start'], { cwd: b, env });
    expect(r.stdout).toBe(`unix://${socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'podX')}`);
    for (const pid of shimDaemons(socketDir)) {
      process.kill(pid, 'SIGTERM');
      await waitFor(() => !isAlive(pid), { what: 'daemon exit' });
    }
  });

  test('racing starts of one pod end with one daemon and one address', async () => {
    const pod = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'podRace' };
    const ids = ['race-a', 'race-b', 'race-c', 'race-d'];
    const results = await Promise.all(ids.map((id) => shim([...flags(id), 'start'], { cwd: fakeBundle(id, pod), env })));
    const expected = `unix://${socketPath(socketDir, '/run/x/containerd.sock', 'ns1', 'podRace')}`;
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(expected);
    }
    await new Promise((r) => setTimeout(r, 300)); // losers' daemons have exited by now
    const daemons = shimDaemons(socketDir);
    expect(daemons).toHaveLength(1);
    process.kill(daemons[0]!, 'SIGTERM');
    await waitFor(() => !isAlive(daemons[0]!), { what: 'daemon exit' });
  });

  test('-info prints RuntimeInfo, -v the version, bad usage exits 2', async () => {
    const info = await runBytes([SHIM, '-info'], {});
    expect(info.code).toBe(0);
    const decoded = containerd.types.RuntimeInfo.decode(info.stdout);
    expect(decoded.name).toBe('io.containerd.mica.v2');
    const pkg = JSON.parse(readFileSync(path.join(distDir, '..', 'package.json'), 'utf8')) as { version: string };
    expect(decoded.version?.version).toBe(pkg.version);
    expect((await shim(['-v'])).stdout).toBe(`containerd-shim-mica-v2 ${pkg.version}\n`);
    const bad = await shim(['-id', 'x', '-namespace', 'n', 'frobnicate']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown action "frobnicate"/);
  });

  test('delete with no state is idempotent and prints a DeleteResponse with 137', async () => {
    const b = fakeBundle('gone');
    const r = await runBytes([SHIM, ...flags('gone'), '-bundle', b, 'delete'], { cwd: b, env });
    expect(r.code, r.stderr).toBe(0);
    const resp = containerd.task.v2.DeleteResponse.decode(r.stdout);
    expect(resp.exitStatus).toBe(137);
    expect(resp.exitedAt?.seconds).toBeGreaterThan(0);
  });
});

describe('daemon without containerd (driven over ttrpc)', () => {
  beforeAll(async () => {
    sim = await startMicadSim();
  });
  afterAll(async () => {
    await sim?.stop();
  });

  test('SIGTERM stops the daemon but leaves the instance running; the delete one-shot then cleans up', async () => {
    const socketDir = path.join(work, 's2');
    const env = { MICRUN_SHIM_SOCKET_DIR: socketDir, MICRUN_STATE_DIR: stateDir, MICRUN_MICA_SOCKET_DIR: sim.socketDir };
    const id = 'term1';
    const b = path.join(work, 'bundles', id);
    mkdirSync(path.join(b, 'rootfs'), { recursive: true });
    copyFileSync(firmwarePath('echo'), path.join(b, 'rootfs', 'firmware.elf'));
    writeFileSync(path.join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['/firmware.elf'], env: [], cwd: '/' } }));
    const flags = ['-namespace', 'ns2', '-address', '/run/y/containerd.sock', '-publish-binary', '/bin/true', '-id', id];
    const started = await shim([...flags, 'start'], { cwd: b, env: { ...env, TTRPC_ADDRESS: path.join(work, 'nobody.sock') } });
    expect(started.code, started.stderr).toBe(0);
    const client = await TtrpcClient.connect(started.stdout.slice('unix://'.length));
    const T = containerd.task.v2;
    const call = async (method: string, type: { encode(m: object): { finish(): Uint8Array } }, req: object) =>
      client.call('containerd.task.v2.Task', method, type.encode(req).finish(), { timeoutMs: 10_000 });
    await call('Create', T.CreateTaskRequest, { id, bundle: b });
    await call('Start', T.StartRequest, { id });
    client.close();
    const [pid] = shimDaemons(socketDir);
    process.kill(pid!, 'SIGTERM');
    await waitFor(() => !isAlive(pid!), { what: 'daemon exit on SIGTERM' });
    expect(instances()).toEqual([`${id}.socket`]); // the RTOS keeps running: our exit is not its exit
    expect(JSON.parse(readFileSync(path.join(stateDir, 'containers', id, 'state.json'), 'utf8')).state).toBe('running');
    const del = await runBytes([SHIM, ...flags, '-bundle', b, 'delete'], { cwd: b, env });
    expect(del.code, del.stderr).toBe(0);
    expect(containerd.task.v2.DeleteResponse.decode(del.stdout).exitStatus).toBe(137);
    expect(instances()).toEqual([]);
    expect(existsSync(path.join(stateDir, 'containers', id))).toBe(false);
    const again = await runBytes([SHIM, ...flags, '-bundle', b, 'delete'], { cwd: b, env });
    expect(again.code, again.stderr).toBe(0);
  });
  test('micad down: Create fails Unavailable over the wire, naming micad, and leaves no state', async () => {
    const socketDir = path.join(work, 's3');
    // when_empty exit: a namespace daemon serving nothing then ends on Shutdown (pinned below).
    const env = {
      MICRUN_SHIM_SOCKET_DIR: socketDir,
      MICRUN_STATE_DIR: stateDir,
      MICRUN_MICA_SOCKET_DIR: path.join(work, 'no-micad-here'),
      MICRUN_SHIM_WHEN_EMPTY: 'exit',
    };
    const id = 'down1';
    const b = path.join(work, 'bundles', id);
    mkdirSync(path.join(b, 'rootfs'), { recursive: true });
    copyFileSync(firmwarePath('echo'), path.join(b, 'rootfs', 'firmware.elf'));
    writeFileSync(path.join(b, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', root: { path: 'rootfs' }, process: { args: ['/firmware.elf'], env: [], cwd: '/' } }));
    const flags = ['-namespace', 'ns3', '-address', '/run/z/containerd.sock', '-publish-binary', '/bin/true', '-id', id];
    const started = await shim([...flags, 'start'], { cwd: b, env: { ...env, TTRPC_ADDRESS: path.join(work, 'nobody.sock') } });
    expect(started.code, started.stderr).toBe(0);
    const client = await TtrpcClient.connect(started.stdout.slice('unix://'.length));
    const T = containerd.task.v2;
    let err: { code?: number; message?: string } = {};
    try {
      await client.call('containerd.task.v2.Task', 'Create', T.CreateTaskRequest.encode({ id, bundle: b }).finish(), { timeoutMs: 10_000 });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err.code).toBe(14); // Unavailable
    expect(err.message).toMatch(/micad/);
    expect(existsSync(path.join(stateDir, 'containers', id))).toBe(false);
    // The daemon serves nothing, so Shutdown ends it.
    await client.call('containerd.task.v2.Task', 'Shutdown', T.ShutdownRequest.encode({ id }).finish(), { timeoutMs: 5_000 });
    client.close();
    await waitFor(() => shimDaemons(socketDir).length === 0, { what: 'daemon exit after Shutdown' });
  });
});

describeEachContainerd('under containerd', (build) => {
  // The shims' state of this build's containerd, apart from the one-shot tests' stateDir.
  let ctdStateDir: string;
  useBuildStack(build, work, {
    stack: { images: [['echo', ECHO], ['exit-3', EXIT3]] },
    started(stack, buildDir) {
      ({ sim, ctd } = stack);
      ctdStateDir = path.join(buildDir, 'state');
    },
  });


  test('containerd receives create → start → exit → delete in order, with the exit code', async () => {
    const events = spawn(ctd.ctrPath, ['--address', ctd.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    events.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      await new Promise((r) => setTimeout(r, 300));
      const r = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, EXIT3, 'ev1']);
      expect(r.code).toBe(3);
      await waitFor(() => out.includes('/tasks/delete'), { what: '/tasks/delete event', timeoutMs: 10_000 });
    } finally {
      await stopChild(events);
    }
    const topics = out
      .split('\n')
      .filter((l) => l.includes('ev1') && l.includes('/tasks/'))
      .map((l) => /\/tasks\/[a-z]+/.exec(l)![0]);
    expect(topics).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
    expect(out).toMatch(/\/tasks\/exit.*"exit_status":3/);
  });

  test('a daemon that dies after start: ctr reports the error, containerd logs the reason, nothing is left', async () => {
    // `start` checks the config and exits at once; this runtime's daemon then finds the config
    // broken (as if edited in between). The wrapper is what `start` re-executes as the daemon.
    const bad = path.join(work, 'broken-later.toml');
    writeFileSync(bad, '[runtime]\nstate_dri = "/x"\n');
    const wrapper = path.join(ctd.binDir, 'containerd-shim-micabroken-v2');
    writeFileSync(
      wrapper,
      [
        '#!/usr/bin/env node',
        `if (process.argv[process.argv.length - 1] === 'serve') process.env.MICRUN_CONFIG = ${JSON.stringify(bad)};`,
        `require(${JSON.stringify(SHIM)});`,
      ].join('\n'),
      { mode: 0o755 },
    );
    const id = 'dies1';
    const r = await ctd.ctr(['run', '--rm', '--runtime', 'io.containerd.micabroken.v2', ECHO, id]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/ctr: /);
    await waitFor(() => ctd.log().includes('shim daemon failed to start') && ctd.log().includes('state_dri'), {
      what: "the daemon's reason in containerd's log",
      timeoutMs: 10_000,
    });
    await waitFor(() => shimDaemons(ctd.shimSocketDir, id).length === 0, { what: 'no daemon left' });
    expect(existsSync(socketPath(ctd.shimSocketDir, ctd.address, 'default', id))).toBe(false);
    expect((await ctd.ctr(['task', 'ls'])).stdout).not.toMatch(new RegExp(`^${id} `, 'm'));
    expect((await ctd.ctr(['container', 'ls', '-q'])).stdout.split('\n')).not.toContain(id);
    expect(existsSync(path.join(ctdStateDir, 'containers', id))).toBe(false);
    expect(instances()).not.toContain(`${id}.socket`);
  });

  test("the daemon's OOM score is containerd's + 1", async () => {
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'oom1'])).code).toBe(0);
    const [pid] = shimDaemons(ctd.shimSocketDir);
    const score = (p: number) => Number(readFileSync(`/proc/${p}/oom_score_adj`, 'utf8'));
    expect(score(pid!)).toBe(Math.min(1000, score(ctd.pid) + 1));
    expect((await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', 'oom1'])).code).toBe(0);
    await waitFor(async () => (await ctd.ctr(['task', 'ls'])).stdout.includes('STOPPED'), { what: 'oom1 stopped' });
    expect((await ctd.ctr(['task', 'delete', 'oom1'])).code).toBe(0);
    expect((await ctd.ctr(['container', 'delete', 'oom1'])).code).toBe(0);
  });

  test("the daemon's log lines reach containerd's log (the bundle log fifo)", async () => {
    const r = await ctd.ctr(['run', '--rm', '--runtime', RUNTIME, EXIT3, 'log1']);
    expect(r.code).toBe(3);
    await waitFor(() => ctd.log().includes('"id":"log1"') && ctd.log().includes('task exited'), { what: 'shim log in containerd log', timeoutMs: 5_000 });
  });

  test('a pod (sandbox + app container, CRI annotations) is served by one daemon', async () => {
    const sb = ['--annotation', 'io.kubernetes.cri.container-type=sandbox', '--annotation', 'io.kubernetes.cri.sandbox-id=pod-a'];
    const app = ['--annotation', 'io.kubernetes.cri.container-type=container', '--annotation', 'io.kubernetes.cri.sandbox-id=pod-a'];
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ...sb, ECHO, 'pod-a'])).code).toBe(0);
    expect(instances()).toEqual([]); // the pause container never reaches micad
    const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ...app, ECHO, 'pod-a-app']);
    expect(r.code, r.stderr).toBe(0);
    expect(instances()).toEqual(['pod-a-app.socket']);
    expect(shimDaemons(ctd.shimSocketDir)).toHaveLength(1);
    const [pid] = shimDaemons(ctd.shimSocketDir);
    for (const id of ['pod-a-app', 'pod-a']) {
      expect((await ctd.ctr(['task', 'kill', id])).code).toBe(0);
      await waitFor(async () => (await ctd.ctr(['task', 'ls'])).stdout.split('\n').some((l) => l.startsWith(`${id} `) && l.includes('STOPPED')), { what: `${id} STOPPED`, timeoutMs: 10_000 });
      expect((await ctd.ctr(['task', 'delete', id])).code).toBe(0);
      expect((await ctd.ctr(['container', 'delete', id])).code).toBe(0);
      // The daemon stays while the pod still has a container — and, being the namespace's
      // daemon (grouping namespace, when_empty wait: the defaults), after the last one too.
      expect(isAlive(pid!)).toBe(true);
    }
    expect(instances()).toEqual([]);
    // Idle, it is the daemon the namespace's next container gets.
    expect((await ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, 'after-pod'])).code).toBe(0);
    expect(shimDaemons(ctd.shimSocketDir)).toEqual([pid]);
    expect((await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', 'after-pod'])).code).toBe(0);
    await waitFor(async () => (await ctd.ctr(['task', 'ls'])).stdout.split('\n').some((l) => l.startsWith('after-pod ') && l.includes('STOPPED')), { what: 'after-pod STOPPED', timeoutMs: 10_000 });
    expect((await ctd.ctr(['task', 'delete', 'after-pod'])).code).toBe(0);
    expect((await ctd.ctr(['container', 'delete', 'after-pod'])).code).toBe(0);
    expect(instances()).toEqual([]);
  });
});
