// `micrun doctor` on a node made of temp files: a healthy setup passes every check, and each
// check fails on its own broken piece with a fix hint and exit status 1. containerd is a script
// printing a real `containerd --version` line, micad a unix socket server; the micad-sim + qemu
// checks need a real micad-sim process and are in test/e2e/doctor.test.ts.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { main } from '../../src/cli';
import { addMicrunRuntime } from '../../src/cli/containerd-config';
import { checkAddon, type CheckResult } from '../../src/cli/doctor-checks';

let dir: string;
let node: { bin: string; sockets: string; state: string; micrunConfig: string; containerdConfig: string; containerdSocket: string };
let micad: net.Server | undefined;
const running: ChildProcess[] = [];

/** A process serving the config's [grpc] address with this PATH: the containerd doctor finds. */
async function runningContainerd(pathEnv: string): Promise<number> {
  const p = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(node.containerdSocket)}, () => console.log('up'))`], {
    env: { PATH: pathEnv },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  running.push(p);
  await new Promise((resolve, reject) => {
    p.stdout!.once('data', resolve);
    p.once('exit', (code) => reject(new Error(`the stand-in containerd exited with ${code}`)));
  });
  return p.pid!;
}

function executable(file: string, text: string): void {
  writeFileSync(file, text);
  chmodSync(file, 0o755);
}
const fakeContainerd = (version: string) =>
  executable(path.join(node.bin, 'containerd'), `#!/bin/sh\necho "containerd github.com/containerd/containerd ${version} ${version}-1"\n`);

beforeEach(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-doctor-'));
  node = {
    bin: path.join(dir, 'bin'),
    sockets: path.join(dir, 'mica'),
    state: path.join(dir, 'state'),
    micrunConfig: path.join(dir, 'micrun.toml'),
    containerdConfig: path.join(dir, 'containerd.toml'),
    containerdSocket: path.join(dir, 'containerd.sock'),
  };
  mkdirSync(node.bin);
  mkdirSync(node.sockets);
  fakeContainerd('1.6.20~ds1');
  executable(path.join(node.bin, 'containerd-shim-mica-v2'), '#!/bin/sh\n');
  writeFileSync(node.micrunConfig, `[mica]\nsocket_dir = "${node.sockets}"\n[runtime]\nstate_dir = "${node.state}"\n`);
  // A private [grpc] address: no test ever looks at a containerd of the machine.
  const config = addMicrunRuntime('version = 2\n', node.containerdConfig, 2).text;
  writeFileSync(node.containerdConfig, `${config}\n[grpc]\n  address = "${node.containerdSocket}"\n`);
  micad = net.createServer((s) => s.destroy()).listen(path.join(node.sockets, 'mica-create.socket'));
  await new Promise((r) => micad!.once('listening', r));
});
afterEach(async () => {
  for (const p of running.splice(0)) {
    p.kill('SIGKILL');
    await new Promise((r) => p.once('exit', r));
  }
  await new Promise((r) => (micad ? micad.close(r) : r(undefined)));
  micad = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function doctor(...extra: string[]): Promise<{ code: number; checks: CheckResult[]; stdout: string }> {
  let stdout = '';
  const env = { PATH: node.bin, MICRUN_CONFIG: node.micrunConfig };
  const code = await main(['doctor', '--json', '--containerd-config', node.containerdConfig, ...extra], {
    stdout: (s) => void (stdout += s),
    stderr: () => {},
    env,
  });
  return { code, checks: (JSON.parse(stdout) as { checks: CheckResult[] }).checks, stdout };
}
const check = (checks: CheckResult[], name: string) => checks.find((c) => c.name === name);

test('a healthy node: every check ok or info, exit 0', async () => {
  const r = await doctor();
  expect(r.code).toBe(0);
  expect(r.checks.filter((c) => c.status !== 'ok' && c.status !== 'info')).toEqual([]);
  expect(check(r.checks, 'containerd')?.detail).toContain('1.6.20');
  expect(check(r.checks, 'CRI sandboxer')?.detail).toMatch(/^podsandbox/);
  expect(check(r.checks, 'shim')?.detail).toBe(path.join(node.bin, 'containerd-shim-mica-v2'));
  // doctor only looks: the state dir that does not exist yet is judged by its parent, not made.
  expect(check(r.checks, 'state dir')?.detail).toContain('does not exist yet');
  expect(existsSync(node.state)).toBe(false);
});

test('the text output: one line per check, a fix line under each failure', async () => {
  rmSync(path.join(node.bin, 'containerd-shim-mica-v2'));
  let stdout = '';
  const code = await main(['doctor', '--containerd-config', node.containerdConfig], {
    stdout: (s) => void (stdout += s),
    stderr: () => {},
    env: { PATH: node.bin, MICRUN_CONFIG: node.micrunConfig },
  });
  expect(code).toBe(1);
  expect(stdout).toMatch(/^ok {3}micad {14}accepts connections/m);
  expect(stdout).toMatch(/^FAIL shim {15}containerd-shim-mica-v2 is not on PATH.*\n {24}fix: micrun install links it/m);
});

describe('each broken piece fails its own check with a fix, exit 1', () => {
  const cases: [string, string, () => void | Promise<void>, RegExp][] = [
    ['micrun config', 'an unknown key', () => writeFileSync(node.micrunConfig, '[mica]\nsocket_dirr = "/x"\n'), /unknown key "mica.socket_dirr"/],
    ['micad', 'no micad socket', async () => void (await new Promise((r) => micad!.close(r)), (micad = undefined)), /cannot connect to .*mica-create.socket/],
    [
      'micad',
      'a stale socket of a dead micad',
      async () => {
        // Bound but not listening: what a killed micad leaves.
        await new Promise((r) => micad!.close(r));
        micad = undefined;
        const { execFileSync } = await import('node:child_process');
        const sock = JSON.stringify(path.join(node.sockets, 'mica-create.socket'));
        execFileSync(process.execPath, ['-e', `require('net').createServer().listen(${sock}, () => process.exit(0))`]);
      },
      /refuses connections/,
    ],
    ['state dir', 'a state dir below a file', () => {
      writeFileSync(path.join(dir, 'file'), '');
      writeFileSync(node.micrunConfig, `[mica]\nsocket_dir = "${node.sockets}"\n[runtime]\nstate_dir = "${path.join(dir, 'file', 'state')}"\n`);
    }, /is not writable/],
    ['containerd config', 'no containerd config', () => rmSync(node.containerdConfig), /cannot read/],
    ['containerd config', 'no micrun handler', () => writeFileSync(node.containerdConfig, 'version = 2\n'), /has no CRI runtime "micrun"/],
    ['containerd config', 'the handler with another runtime type', () => writeFileSync(
      node.containerdConfig,
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]\n  runtime_type = "io.containerd.runc.v2"\n',
    ), /has runtime_type "io.containerd.runc.v2"/],
    ['containerd config', 'runc missing (1.6 CRI would not load)', () => writeFileSync(
      node.containerdConfig,
      'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]\n  runtime_type = "io.containerd.mica.v2"\n',
    ), /without runc/],
    ['config format', 'a version 3 config for containerd 1.6', () => writeFileSync(node.containerdConfig, addMicrunRuntime('version = 3\n', 'x', 3).text), /version 3, which containerd 1.6.20 cannot read/],
    ['containerd', 'no containerd', () => rmSync(path.join(node.bin, 'containerd')), /not on PATH/],
    ['shim', 'no shim on PATH', () => rmSync(path.join(node.bin, 'containerd-shim-mica-v2')), /not on PATH/],
  ];
  test.each(cases)('%s: %s', async (name, _what, breakIt, detail) => {
    await breakIt();
    const r = await doctor();
    expect(r.code).toBe(1);
    const c = check(r.checks, name);
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringMatching(detail), hint: expect.any(String) });
    expect(c!.hint!.split('\n')).toHaveLength(1);
  });

  test('the addon: a loader that throws is a failure that says how to rebuild it', () => {
    const result = checkAddon(() => {
      throw new Error('the libmica native addon is missing (/x/native/build/Release/libmica.node)');
    });
    expect(result).toMatchObject({ status: 'fail', detail: expect.stringContaining('libmica.node'), hint: expect.stringContaining('build:native') });
  });
});

test('warnings do not fail: a version 2 config on containerd 2.x, the CRI plugin disabled', async () => {
  fakeContainerd('2.1.9');
  writeFileSync(node.containerdConfig, addMicrunRuntime('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', 'x', 2).text);
  const r = await doctor();
  expect(r.code).toBe(0);
  expect(check(r.checks, 'config format')?.status).toBe('warn');
  expect(check(r.checks, 'containerd config')?.status).toBe('warn');
});

test('containerd 2.x with sandboxer "shim" is reported', async () => {
  fakeContainerd('2.1.9');
  writeFileSync(
    node.containerdConfig,
    "version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.micrun]\n  runtime_type = 'io.containerd.mica.v2'\n  sandboxer = 'shim'\n",
  );
  const r = await doctor();
  expect(r.code).toBe(0);
  expect(check(r.checks, 'CRI sandboxer')?.detail).toMatch(/^shim/);
});

describe("containerd's PATH: read from the running containerd, not from doctor's shell", () => {
  const nodeDir = path.dirname(process.execPath);

  test('shim and node on its PATH: ok, naming both and the pid', async () => {
    const pid = await runningContainerd(`${node.bin}:${nodeDir}`);
    const c = check((await doctor()).checks, "containerd's PATH");
    expect(c).toMatchObject({ status: 'ok', detail: `containerd pid ${pid} runs ${path.join(node.bin, 'containerd-shim-mica-v2')} with node ${process.execPath}` });
  });

  test('node missing from its PATH (a systemd unit with node in /opt): a failure that says how to fix it', async () => {
    const pid = await runningContainerd(node.bin);
    const r = await doctor();
    expect(r.code).toBe(1);
    const c = check(r.checks, "containerd's PATH");
    expect(c).toMatchObject({ status: 'fail', detail: `containerd pid ${pid} runs the shim, but node is not on its PATH ${node.bin}` });
    expect(c!.hint).toMatch(/systemctl edit containerd/);
  });

  test('the shim missing from its PATH and from beside its binary: a failure naming the shim', async () => {
    const empty = path.join(dir, 'empty-bin');
    mkdirSync(empty);
    await runningContainerd(`${empty}:${nodeDir}`);
    const c = check((await doctor()).checks, "containerd's PATH");
    expect(c).toMatchObject({ status: 'fail', detail: expect.stringContaining(`cannot find containerd-shim-mica-v2 on its PATH ${empty}:${nodeDir}`) });
  });

  test('no containerd serving the configured address: reported, not failed', async () => {
    const c = check((await doctor()).checks, "containerd's PATH");
    expect(c).toMatchObject({ status: 'info', detail: expect.stringContaining(`no containerd serves ${node.containerdSocket}`) });
  });
});
