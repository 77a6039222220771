// The Sandbox service on the real, built shim daemon (dist/): started by the `start` one-shot as
// containerd 2.x's shim sandboxer would, then driven over its socket with our ttrpc client —
// CreateSandbox → StartSandbox → Platform/Ping/Status → StopSandbox → WaitSandbox →
// ShutdownSandbox, after which the daemon exits and its socket is gone. (containerd 1.6 never
// calls this service, so no containerd is involved here; the unit tests cover the semantics.)
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { containerd } from '../../src/proto';
import { SANDBOX_SERVICE } from '../../src/shim/sandbox-service';
import { TtrpcClient } from '../../src/ttrpc';
import { distDir } from './harness/containerd';
import { isAlive, run, waitFor } from './harness/processes';

const S = containerd.runtime.sandbox.v1;
const SHIM = path.join(distDir, 'containerd-shim-mica-v2.js');
const work = mkdtempSync(path.join(tmpdir(), 'micrun-sbx-e2e-'));
const POD = 'pod-e2e-1';

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Codec<M> {
  encode(m: M): { finish(): Uint8Array };
  decode(b: Uint8Array): M;
}

test('the daemon serves containerd.runtime.sandbox.v1.Sandbox; after ShutdownSandbox it waits for the next pod of the namespace until SIGTERM', async () => {
  const bundle = path.join(work, 'bundles', POD);
  mkdirSync(bundle, { recursive: true });
  // What containerd puts in a sandbox bundle: CRI's annotations name the pod (the daemon's group).
  writeFileSync(
    path.join(bundle, 'config.json'),
    JSON.stringify({ ociVersion: '1.0.2', annotations: { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': POD } }),
  );
  const env = {
    ...process.env,
    MICRUN_SHIM_SOCKET_DIR: path.join(work, 's'),
    MICRUN_STATE_DIR: path.join(work, 'state'),
    MICRUN_MICA_SOCKET_DIR: path.join(work, 'mica'),
    TTRPC_ADDRESS: path.join(work, 'no-containerd.sock.ttrpc'),
  };
  const started = await run(
    process.execPath,
    [SHIM, '-namespace', 'k8s.io', '-address', path.join(work, 'containerd.sock'), '-publish-binary', '/usr/bin/containerd', '-id', POD, 'start'],
    { cwd: bundle, env },
  );
  expect(started.stderr).toBe('');
  expect(started.code).toBe(0);
  const socket = started.stdout.replace(/^unix:\/\//, '');
  const client = await TtrpcClient.connect(socket);
  const call = async <Req, Res>(method: string, reqType: Codec<Req>, req: Req, resType: Codec<Res>) =>
    resType.decode(await client.call(SANDBOX_SERVICE, method, reqType.encode(req).finish(), { timeoutMs: 10_000 }));

  try {
    const beforeCreate = Date.now();
    await call('CreateSandbox', S.CreateSandboxRequest, { sandboxId: POD, bundlePath: bundle, rootfs: [], netnsPath: '', annotations: { 'org.openeuler.micrun.container.min_memory_mb': '16' } }, S.CreateSandboxResponse);
    const start = await call('StartSandbox', S.StartSandboxRequest, { sandboxId: POD }, S.StartSandboxResponse);
    const daemon = Number(start.pid);
    expect(isAlive(daemon)).toBe(true);
    expect(readFileSync(`/proc/${daemon}/cmdline`, 'utf8').split('\0')).toContain('serve'); // the pid is the shim daemon's
    // Ordering, not a time bound: the pod was created during this test, not at some other time.
    expect(Number(start.createdAt!.seconds)).toBeGreaterThanOrEqual(Math.floor(beforeCreate / 1000));
    expect(Number(start.createdAt!.seconds)).toBeLessThanOrEqual(Date.now() / 1000);

    const platform = (await call('Platform', S.PlatformRequest, { sandboxId: POD }, S.PlatformResponse)).platform!;
    expect(platform.os).toBe('linux');
    await call('PingSandbox', S.PingRequest, { sandboxId: POD }, S.PingResponse);
    const status = await call('SandboxStatus', S.SandboxStatusRequest, { sandboxId: POD, verbose: true }, S.SandboxStatusResponse);
    expect(status.state).toBe('SANDBOX_READY');
    expect(JSON.parse(status.info!.info!)).toMatchObject({ sandboxId: POD, shimPid: daemon, namespace: 'k8s.io', containers: [] });

    const waiting = call('WaitSandbox', S.WaitSandboxRequest, { sandboxId: POD }, S.WaitSandboxResponse);
    await call('StopSandbox', S.StopSandboxRequest, { sandboxId: POD, timeoutSecs: 1 }, S.StopSandboxResponse);
    expect((await waiting).exitStatus).toBe(137);
    expect((await call('SandboxStatus', S.SandboxStatusRequest, { sandboxId: POD, verbose: false }, S.SandboxStatusResponse)).state).toBe('SANDBOX_NOTREADY');

    await call('ShutdownSandbox', S.ShutdownSandboxRequest, { sandboxId: POD }, S.ShutdownSandboxResponse);
    expect(existsSync(path.join(work, 'state', 'containers', POD))).toBe(false);
    // The namespace's daemon (the defaults: grouping namespace, when_empty wait) stays for the
    // namespace's next pod; SIGTERM ends it and takes its socket along.
    await new Promise((r) => setTimeout(r, 300));
    expect(isAlive(daemon)).toBe(true);
    process.kill(daemon, 'SIGTERM');
    await waitFor(() => !isAlive(daemon), { what: 'the waiting daemon to exit on SIGTERM', timeoutMs: 10_000 });
    expect(existsSync(socket)).toBe(false);
  } finally {
    client.close();
  }
}, 60_000);
