// The built shim, started the way containerd starts it, exports OTLP/gRPC spans that continue
// the caller's trace; with tracing off the daemon loads no OpenTelemetry code at all.
//
// "Loads no OpenTelemetry" is observed from outside the bundle: the OTLP exporter runs on
// @grpc/grpc-js, which loads node:http2, and nothing else in the daemon does. A preloaded probe
// (NODE_OPTIONS=--require) records, when the daemon exits, whether http2 was ever loaded.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { containerd } from '../../src/proto';
import { Code, TtrpcClient, type TtrpcError } from '../../src/ttrpc';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../telemetry/otlp-receiver';
import { distDir } from './harness/containerd';
import { stopShimDaemons } from './harness/leftovers';
import { firmwarePath, startMicadSim } from './harness/micad-sim';
import { startMicrunStack } from './harness/micrun-stack';
import { isAlive, run, waitFor } from './harness/processes';

/** MICRUN_E2E_SHIM: run against another build of the shim (e.g. one with tracing split out). */
const SHIM = process.env.MICRUN_E2E_SHIM || path.join(distDir, 'containerd-shim-mica-v2.js');
const TASK = 'containerd.task.v2.Task';
const T = containerd.task.v2;
const work = mkdtempSync(path.join(tmpdir(), 'micrun-tracing-e2e-'));
const probe = path.join(work, 'module-probe.cjs');
let receiver: OtlpReceiver;
/** Shim socket dirs of the daemons startShim started. */
const shimSocketDirs: string[] = [];

beforeAll(async () => {
  if (!existsSync(SHIM)) throw new Error(`${SHIM} is missing: run \`npm run build\` first`);
  writeFileSync(
    probe,
    `process.on('exit', () => {
  const loaded = process.moduleLoadList.filter((m) => /\\bhttp2\\b/.test(m));
  require('node:fs').writeFileSync(${JSON.stringify(work)} + '/modules-' + process.pid + '.json', JSON.stringify({ http2: loaded.length > 0 }));
});\n`,
  );
  receiver = await startOtlpReceiver();
});

afterAll(async () => {
  await receiver?.close();
  // A test that failed before its Shutdown leaves its daemon: stop it before removing its dirs.
  for (const dir of shimSocketDirs) await stopShimDaemons(dir);
  rmSync(work, { recursive: true, force: true });
});

interface Shim {
  client: TtrpcClient;
  pid: number;
}

/** `start` one-shot exactly as containerd runs it, then a ttrpc connection to the printed address. */
async function startShim(id: string, env: Record<string, string>, firmware?: string): Promise<Shim & { bundle: string }> {
  const dir = path.join(work, id);
  const bundle = path.join(dir, 'bundle');
  mkdirSync(path.join(bundle, 'rootfs'), { recursive: true });
  if (firmware) copyFileSync(firmware, path.join(bundle, 'rootfs', 'firmware.elf'));
  writeFileSync(path.join(bundle, 'config.json'), JSON.stringify({ ociVersion: '1.0.2', process: { args: ['/firmware.elf'] }, root: { path: 'rootfs' } }));
  writeFileSync(path.join(dir, 'config.toml'), '');
  const shimSocketDir = path.join(dir, 's');
  shimSocketDirs.push(shimSocketDir);
  const started = await run(process.execPath, [SHIM, '-namespace', 'default', '-address', path.join(dir, 'containerd.sock'), '-id', id, 'start'], {
    cwd: bundle,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      MICRUN_CONFIG: path.join(dir, 'config.toml'),
      MICRUN_SHIM_SOCKET_DIR: shimSocketDir,
      MICRUN_STATE_DIR: path.join(dir, 'state'),
      MICRUN_MICA_SOCKET_DIR: path.join(dir, 'mica'),
      TTRPC_ADDRESS: path.join(dir, 'nonexistent'),
      NODE_OPTIONS: `--require ${probe}`,
      // These tests follow a daemon's whole life (spans flushed when it stops): Shutdown with
      // nothing left must end it rather than leave it waiting for the namespace's next container.
      MICRUN_SHIM_WHEN_EMPTY: 'exit',
      ...env,
    },
    timeoutMs: 20_000,
  });
  expect(started.code, started.stderr + started.stdout).toBe(0);
  expect(started.stdout).toMatch(/^unix:\/\/\S+$/);
  const client = await TtrpcClient.connect(started.stdout.replace(/^unix:\/\//, ''));
  const reply = T.ConnectResponse.decode(await client.call(TASK, 'Connect', T.ConnectRequest.encode({ id }).finish(), { timeoutMs: 5_000 }));
  expect(reply.shimPid).toBeGreaterThan(0);
  return { client, pid: reply.shimPid, bundle };
}

/** Shutdown with no container left stops the daemon; wait until its PID is gone. */
async function shutdownShim(shim: Shim, id: string): Promise<void> {
  await shim.client.call(TASK, 'Shutdown', T.ShutdownRequest.encode({ id }).finish(), { timeoutMs: 5_000 });
  shim.client.close();
  try {
    await waitFor(() => !isAlive(shim.pid), { what: `shim daemon ${shim.pid} to exit`, timeoutMs: 10_000 });
  } finally {
    if (isAlive(shim.pid)) process.kill(shim.pid, 'SIGKILL');
  }
}

const http2Loaded = (pid: number) => (JSON.parse(readFileSync(path.join(work, `modules-${pid}.json`), 'utf8')) as { http2: boolean }).http2;

describe('tracing in the built shim', () => {
  test('spans continue the caller trace, carry ids and codes, and are flushed when the daemon stops', async () => {
    const trace = 'a3ce929d0e0e47364bf92f3577b34da6';
    const parent = '53995c3f42cd8ad8';
    const traceparent = `00-${trace}-${parent}-01`;
    const id = 'traced-1';
    const shim = await startShim(id, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });

    await shim.client.call(TASK, 'Connect', T.ConnectRequest.encode({ id }).finish(), {
      metadata: { traceparent, tracestate: 'micrun=e2e', 'containerd-namespace-ttrpc': 'default' },
    });
    const connect = await waitFor(
      () => receiver.spans.find((s) => s.name === `${TASK}/Connect` && s.traceId === trace),
      { what: 'the Connect span at the OTLP receiver', timeoutMs: 10_000 },
    );
    expect(connect).toMatchObject<Partial<ReceivedSpan>>({
      service: 'containerd-shim-mica-v2',
      kind: 2,
      parentSpanId: parent,
      traceState: 'micrun=e2e',
      statusCode: 0,
    });
    expect(connect.attributes).toMatchObject({
      'rpc.system': 'ttrpc',
      'rpc.service': TASK,
      'rpc.method': 'Connect',
      'container.id': id,
      namespace: 'default',
      'rpc.grpc.status_code': 0,
    });

    const err = (await shim.client
      .call(TASK, 'State', T.StateRequest.encode({ id: 'no-such-container' }).finish(), { metadata: { traceparent } })
      .catch((e: unknown) => e)) as TtrpcError;
    expect(err.code).toBe(Code.NotFound);

    // The first Connect (from startShim, no traceparent) started a trace of its own.
    expect(receiver.spans.some((s) => s.name === `${TASK}/Connect` && s.parentSpanId === '' && s.traceId !== trace)).toBe(true);

    await shutdownShim(shim, id);
    // The daemon exits within ~50 ms of stopping, well before the next 200 ms batch: State's
    // and Shutdown's spans reach the receiver only through the daemon's flush on stop.
    const state = receiver.spans.find((s) => s.name === `${TASK}/State` && s.traceId === trace);
    expect(state).toMatchObject({ parentSpanId: parent, statusCode: 2, attributes: { 'rpc.grpc.status_code': Code.NotFound, 'container.id': 'no-such-container' } });
    expect(receiver.spans.some((s) => s.name === `${TASK}/Shutdown`)).toBe(true);
    expect(http2Loaded(shim.pid)).toBe(true);
    // The `start` one-shot ran with the endpoint set too, and must not have loaded the OTLP stack.
    const others = readdirSync(work).filter((f) => /^modules-\d+\.json$/.test(f) && f !== `modules-${shim.pid}.json`);
    expect(others.length).toBeGreaterThanOrEqual(1);
    for (const f of others) expect(http2Loaded(Number(f.match(/\d+/)![0])), f).toBe(false);
  });

  test('with no endpoint configured the daemon exports nothing and never loads the OTLP stack', async () => {
    const before = receiver.exports;
    const id = 'untraced-1';
    const shim = await startShim(id, {});
    await shim.client.call(TASK, 'Connect', T.ConnectRequest.encode({ id }).finish(), {
      metadata: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` },
    });
    await shutdownShim(shim, id);
    expect(http2Loaded(shim.pid)).toBe(false);
    expect(receiver.exports).toBe(before);
  });

  test('OTEL_SDK_DISABLED=true wins over an endpoint', async () => {
    const id = 'disabled-1';
    const shim = await startShim(id, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_SDK_DISABLED: 'true' });
    await shim.client.call(TASK, 'Connect', T.ConnectRequest.encode({ id }).finish());
    await shutdownShim(shim, id);
    expect(http2Loaded(shim.pid)).toBe(false);
    expect(receiver.spans.some((s) => s.attributes['container.id'] === id)).toBe(false);
  });

  test('micad requests made by a call are its CLIENT children (micad-sim)', async () => {
    const sim = await startMicadSim();
    const trace = 'c0ffee00c0ffee00c0ffee00c0ffee00';
    const parent = '0123456789abcdef';
    const traceparent = `00-${trace}-${parent}-01`;
    const id = 'traced-fw';
    const shim = await startShim(id, { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, MICRUN_MICA_SOCKET_DIR: sim.socketDir }, firmwarePath('echo'));
    try {
      await shim.client.call(TASK, 'Create', T.CreateTaskRequest.encode({ id, bundle: shim.bundle }).finish(), {
        metadata: { traceparent },
        timeoutMs: 30_000,
      });
      await shim.client.call(TASK, 'Delete', T.DeleteRequest.encode({ id }).finish(), { metadata: { traceparent }, timeoutMs: 30_000 });
    } finally {
      await shutdownShim(shim, id).finally(() => sim.stop());
    }
    const span = (name: string) => {
      const found = receiver.spans.find((s) => s.name === name && s.traceId === trace);
      if (!found) throw new Error(`no ${name} span in trace ${trace}; got ${receiver.spans.filter((s) => s.traceId === trace).map((s) => s.name).join(', ')}`);
      return found;
    };
    const create = span(`${TASK}/Create`);
    const del = span(`${TASK}/Delete`);
    expect([create.parentSpanId, del.parentSpanId]).toEqual([parent, parent]);
    expect(span('micad create')).toMatchObject({ kind: 3, parentSpanId: create.spanId, statusCode: 0 });
    expect(span('micad create').attributes['mica.instance']).toEqual(expect.stringContaining(id));
    expect(span('micad rm').parentSpanId).toBe(del.spanId);
  });

  test('containerd 1.6 + ctr run: every Task call of the container is a span, exported before the shim exits', async () => {
    const image = 'docker.io/micrun-test/tracing-exit3:e2e';
    const { ctd, destroy } = await startMicrunStack({
      stateDir: path.join(work, 'ctd-state'),
      containerd: { env: { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint } },
      images: [['exit-3', image]],
    });
    const id = 'traced-ctr';
    try {
      const r = await ctd.ctr(['run', '--rm', '--runtime', 'io.containerd.mica.v2', image, id], { timeoutMs: 60_000 });
      expect(r.code, r.stderr).toBe(3);
      // `ctr run --rm` returns after Delete; the daemon then gets Shutdown and flushes on exit.
      const methods = await waitFor(
        () => {
          const got = new Set(receiver.spans.filter((s) => s.attributes['container.id'] === id).map((s) => s.attributes['rpc.method']));
          return ['Create', 'Start', 'Wait', 'Delete', 'Shutdown'].every((m) => got.has(m)) ? got : undefined;
        },
        { what: 'spans of Create, Start, Wait, Delete and Shutdown', timeoutMs: 15_000 },
      );
      expect([...methods]).toEqual(expect.arrayContaining(['Create', 'Start', 'Wait', 'Delete', 'Shutdown']));
      const create = receiver.spans.find((s) => s.attributes['container.id'] === id && s.attributes['rpc.method'] === 'Create');
      // containerd 1.6 sends no trace context: each call is a root of its own trace.
      expect(create?.parentSpanId).toBe('');
      expect(receiver.spans.some((s) => s.name === 'micad create' && s.parentSpanId === create?.spanId)).toBe(true);
    } finally {
      await destroy();
    }
  });
});
