import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { containerd } from '../../src/proto';
import { EventPublisher } from '../../src/shim/publisher';
import { TtrpcServer } from '../../src/ttrpc';

const { ForwardRequest } = containerd.services.events.ttrpc.v1;
const silent = pino({ level: 'silent' });

let dir: string;
let socket: string;
let server: TtrpcServer | undefined;
let received: Array<{ topic: string; namespace: string; typeUrl: string; seconds: number; body: Uint8Array; ns?: string }>;

async function startFakeContainerd(): Promise<void> {
  server = new TtrpcServer();
  server.register('containerd.services.events.ttrpc.v1.Events', {
    Forward: async (payload, ctx) => {
      const env = ForwardRequest.decode(payload).envelope!;
      received.push({
        topic: env.topic!,
        namespace: env.namespace!,
        typeUrl: env.event!.type_url!,
        seconds: Number(env.timestamp?.seconds ?? 0),
        body: env.event!.value!,
        ns: ctx.metadata.get('containerd-namespace-ttrpc')?.[0],
      });
      return new Uint8Array();
    },
  });
  await server.listen(socket);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-pub-'));
  socket = path.join(dir, 'containerd.sock.ttrpc');
  received = [];
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

test('events reach containerd in publish order with topic, namespace, bare type URL and a timestamp', async () => {
  await startFakeContainerd();
  const pub = new EventPublisher({ ttrpcAddress: `unix://${socket}`, namespace: 'ns1', logger: silent });
  pub.publish('TaskCreate', { containerId: 'c1', bundle: '/b', pid: 7 });
  pub.publish('TaskStart', { containerId: 'c1', pid: 7 });
  pub.publish('TaskExit', { containerId: 'c1', id: 'c1', pid: 7, exitStatus: 3, exitedAt: { seconds: 5, nanos: 0 } });
  pub.publish('TaskDelete', { containerId: 'c1', pid: 7, exitStatus: 3 });
  await pub.close();
  expect(received.map((r) => r.topic)).toEqual(['/tasks/create', '/tasks/start', '/tasks/exit', '/tasks/delete']);
  expect(received.map((r) => r.typeUrl)).toEqual([
    'containerd.events.TaskCreate',
    'containerd.events.TaskStart',
    'containerd.events.TaskExit',
    'containerd.events.TaskDelete',
  ]);
  expect(received.every((r) => r.namespace === 'ns1' && r.ns === 'ns1' && r.seconds > 1_600_000_000)).toBe(true);
  const exit = containerd.events.TaskExit.decode(received[2]!.body);
  expect(exit).toMatchObject({ containerId: 'c1', id: 'c1', pid: 7, exitStatus: 3 });
});

test('events published while containerd is away are delivered, in order, once it is back', async () => {
  const pub = new EventPublisher({ ttrpcAddress: socket, namespace: 'default', logger: silent, retryDelayMs: 50, maxAttempts: 20 });
  pub.publish('TaskStart', { containerId: 'a', pid: 1 });
  pub.publish('TaskExit', { containerId: 'a', id: 'a', pid: 1, exitStatus: 0 });
  await new Promise((r) => setTimeout(r, 200));
  expect(received).toHaveLength(0);
  await startFakeContainerd();
  await pub.close(5_000);
  expect(received.map((r) => r.topic)).toEqual(['/tasks/start', '/tasks/exit']);
});

test('an event containerd never takes is dropped after the retries and close() still returns', async () => {
  const errors: string[] = [];
  const logger = pino({ level: 'error' }, { write: (line: string) => void errors.push(line) });
  const pub = new EventPublisher({ ttrpcAddress: socket, namespace: 'default', logger, retryDelayMs: 10, maxAttempts: 3 });
  pub.publish('TaskPaused', { containerId: 'x' });
  await new Promise((r) => setTimeout(r, 300));
  await pub.close(1_000);
  expect(errors.join('')).toMatch(/event dropped/);
  pub.publish('TaskResumed', { containerId: 'x' }); // after close: ignored, never throws
});
