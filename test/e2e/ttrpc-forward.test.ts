// Our ttrpc client against containerd's own ttrpc server: publish a /tasks/exit event the way the
// shim will (Events/Forward on TTRPC_ADDRESS, Any with the bare type URL) and read it back out of
// containerd with `ctr events`. Proves framing, the Request envelope, and the event protos.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { containerd, toAny } from '../../src/proto';
import { Code, TtrpcClient, TtrpcError } from '../../src/ttrpc';
import { startContainerd, type Containerd } from './harness/containerd';
import { stopChild, waitFor } from './harness/processes';

const EVENTS = 'containerd.services.events.ttrpc.v1.Events';

let ctd: Containerd;
let events: ChildProcess | undefined;
let client: TtrpcClient | undefined;
let output = '';

beforeAll(async () => {
  ctd = await startContainerd();
  events = spawn('ctr', ['--address', ctd.address, 'events'], { stdio: ['ignore', 'pipe', 'pipe'] });
  events.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  events.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  client = await TtrpcClient.connect(ctd.ttrpcAddress);
});

afterAll(async () => {
  client?.close();
  if (events) await stopChild(events);
  await ctd?.destroy();
});

function forwardExit(pid: number, topic = '/tasks/exit') {
  const exit = { containerId: 'ctr-1', id: 'ctr-1', pid, exitStatus: 7, exitedAt: { seconds: 1_700_000_000, nanos: 5 } };
  const now = Date.now();
  const req = containerd.services.events.ttrpc.v1.ForwardRequest.encode({
    envelope: {
      timestamp: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
      namespace: 'default',
      topic,
      event: toAny('containerd.events.TaskExit', containerd.events.TaskExit, exit),
    },
  }).finish();
  return client!.call(EVENTS, 'Forward', req, { timeoutMs: 5_000, metadata: { 'containerd-namespace-ttrpc': 'default' } });
}

test('a TaskExit forwarded over ttrpc comes out of containerd intact', async () => {
  // `ctr events` gives no sign that it has subscribed: forward until it prints the event.
  let pid = 4000;
  const line = await waitFor(
    async () => {
      const reply = await forwardExit(++pid);
      expect(reply).toHaveLength(0); // containerd answers google.protobuf.Empty: no bytes
      await new Promise((r) => setTimeout(r, 300));
      return output.split('\n').find((l) => l.includes('/tasks/exit'));
    },
    { timeoutMs: 20_000, intervalMs: 0, what: `ctr events to print /tasks/exit (output so far: ${output})` },
  );
  expect(line).toMatch(/ default \/tasks\/exit /);
  const json = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, unknown>;
  expect(json).toMatchObject({ container_id: 'ctr-1', id: 'ctr-1', exit_status: 7 });
  expect(json.pid).toBeGreaterThan(4000);
  expect(json.exited_at).toBe('2023-11-14T22:13:20.000000005Z');
});

test('containerd rejects an envelope it cannot validate, with a coded error', async () => {
  const err = await forwardExit(1, 'no-leading-slash').catch((e: unknown) => e);
  expect(err).toBeInstanceOf(TtrpcError);
  expect((err as TtrpcError).code).toBe(Code.InvalidArgument);
  expect((err as TtrpcError).message).toMatch(/must start with '\/'/);
});
