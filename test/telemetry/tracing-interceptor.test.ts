// The interceptor and the micad wrapper against a real TtrpcServer/TtrpcClient over a unix socket,
// spans collected in memory.
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { notFound } from '../../src/errors';
import type { MicaClient } from '../../src/mica/types';
import { startTracing } from '../../src/telemetry/tracing';
import { Code, toStatus, TtrpcClient, type TtrpcError } from '../../src/ttrpc';
import { FakeMica } from '../runtime/fake-mica';
import { serve, sleep, type Served } from '../ttrpc/helpers';

const TASK = 'containerd.task.v2.Task';
const TRACE = '0af7651916cd43dd8448eb211c80319c';
const PARENT = 'b7ad6b7169203331';
const silent = { info: () => {}, warn: () => {} };

/** A Task request whose field 1 is the container id. */
const idPayload = (id: string) => new Uint8Array([0x0a, id.length, ...Buffer.from(id)]);

describe('tracing interceptor', () => {
  let served: Served;
  let client: TtrpcClient;
  let exporter: InMemorySpanExporter;
  let fake: FakeMica;
  let shutdown: () => Promise<void>;
  let afterReply: Promise<unknown> | undefined;

  beforeEach(async () => {
    exporter = new InMemorySpanExporter();
    fake = new FakeMica();
    let mica: MicaClient = fake;
    served = await serve((server) => {
      const tracing = startTracing({
        server,
        mica: fake,
        serviceName: 'containerd-shim-mica-v2',
        attributes: { namespace: 'k8s.io' },
        logger: silent,
        exporter,
        batch: false,
        statusOf: toStatus,
      });
      mica = tracing.mica;
      shutdown = tracing.shutdown;
      server.register(TASK, {
        Create: async () => {
          await mica.create({ name: 'default-c1', firmwarePath: '/fw.elf' });
          await mica.start('default-c1');
          return new Uint8Array();
        },
        Delete: async () => {
          await mica.stop('missing'); // FakeMica: Unavailable, no such instance
          return new Uint8Array();
        },
        State: async () => {
          throw notFound('container c9 not found in namespace k8s.io');
        },
        Start: async () => {
          // Work armed during the call that runs after the reply (like the exit poller).
          afterReply = new Promise((resolve) => setTimeout(() => resolve(mica.status('default-c1').catch(() => {})), 30));
          return new Uint8Array();
        },
      });
    });
    client = await TtrpcClient.connect(served.socketPath);
  });

  afterEach(async () => {
    client.close();
    await shutdown();
    await served.cleanup();
  });

  const spans = () => exporter.getFinishedSpans();
  const named = (name: string): ReadableSpan => {
    const span = spans().find((s) => s.name === name);
    if (!span) throw new Error(`no span ${name}; have ${spans().map((s) => s.name).join(', ')}`);
    return span;
  };

  it('continues the caller trace from traceparent, with micad calls as children', async () => {
    await client.call(TASK, 'Create', idPayload('c1'), {
      metadata: { traceparent: `00-${TRACE}-${PARENT}-01`, tracestate: 'vendor=abc' },
    });
    const server = named(`${TASK}/Create`);
    expect(server.kind).toBe(SpanKind.SERVER);
    expect(server.spanContext().traceId).toBe(TRACE);
    expect(server.parentSpanContext?.spanId).toBe(PARENT);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(server.spanContext().traceState?.get('vendor')).toBe('abc');
    expect(server.attributes).toMatchObject({
      'rpc.system': 'ttrpc',
      'rpc.service': TASK,
      'rpc.method': 'Create',
      'container.id': 'c1',
      namespace: 'k8s.io',
      'rpc.grpc.status_code': 0,
    });
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);

    for (const [name, command] of [['micad create', 'create'], ['micad start', 'start']] as const) {
      const child = named(name);
      expect(child.kind).toBe(SpanKind.CLIENT);
      expect(child.spanContext().traceId).toBe(TRACE);
      expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(child.attributes).toMatchObject({ 'mica.instance': 'default-c1', 'mica.command': command });
    }
    // children end before their parent
    expect(spans().map((s) => s.name)).toEqual(['micad create', 'micad start', `${TASK}/Create`]);
  });

  it('starts a new root trace when the call carries no traceparent', async () => {
    await client.call(TASK, 'Create', idPayload('c1'));
    const server = named(`${TASK}/Create`);
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(server.spanContext().traceId).not.toBe(TRACE);
    expect(named('micad start').spanContext().traceId).toBe(server.spanContext().traceId);
  });

  it('starts a new root trace when traceparent is malformed', async () => {
    await client.call(TASK, 'Create', idPayload('c1'), { metadata: { traceparent: `00-${TRACE}-${PARENT}` } });
    expect(named(`${TASK}/Create`).parentSpanContext).toBeUndefined();
  });

  it('marks a span failed with the gRPC code of a thrown CodedError', async () => {
    const err = (await client.call(TASK, 'State', idPayload('c9'), {
      metadata: { traceparent: `00-${TRACE}-${PARENT}-01` },
    }).catch((e: unknown) => e)) as TtrpcError;
    expect(err.code).toBe(Code.NotFound); // the reply is unchanged by tracing
    const server = named(`${TASK}/State`);
    expect(server.status).toEqual({ code: SpanStatusCode.ERROR, message: 'container c9 not found in namespace k8s.io' });
    expect(server.attributes).toMatchObject({ 'rpc.grpc.status_code': Code.NotFound, 'error.type': 'NotFound', 'container.id': 'c9' });
    expect(server.events.map((e) => e.name)).toContain('exception');
  });

  it('marks a failed micad call and its ttrpc call', async () => {
    await expect(client.call(TASK, 'Delete', idPayload('c1'))).rejects.toMatchObject({ code: Code.Unavailable });
    const child = named('micad stop');
    expect(child.status.code).toBe(SpanStatusCode.ERROR);
    expect(child.attributes['error.type']).toBe('Unavailable');
    expect(child.parentSpanContext?.spanId).toBe(named(`${TASK}/Delete`).spanContext().spanId);
  });

  it('does not attach micad calls made after the call answered to its ended span', async () => {
    await fake.create({ name: 'default-c1', firmwarePath: '/fw.elf' });
    await client.call(TASK, 'Start', idPayload('c1'));
    await afterReply;
    await sleep(5);
    expect(fake.calls).toContain('status default-c1');
    expect(spans().map((s) => s.name)).toEqual([`${TASK}/Start`]);
  });

  it('leaves micad calls outside any ttrpc call untraced', async () => {
    const { mica } = startTracing({ server: { use: () => {} }, mica: fake, serviceName: 's', logger: silent, exporter, batch: false, statusOf: toStatus });
    await mica.create({ name: 'x', firmwarePath: '/fw.elf' });
    expect(fake.calls).toContain('create x');
    expect(spans()).toHaveLength(0);
  });

  it('names the sandbox id of Sandbox service calls, and no id for other services', async () => {
    served.server.register('containerd.runtime.sandbox.v1.Sandbox', { StartSandbox: async () => new Uint8Array() });
    served.server.register('example.Other', { Call: async () => new Uint8Array() });
    await client.call('containerd.runtime.sandbox.v1.Sandbox', 'StartSandbox', idPayload('pod-1'));
    await client.call('example.Other', 'Call', idPayload('not-an-id'));
    expect(named('containerd.runtime.sandbox.v1.Sandbox/StartSandbox').attributes['containerd.sandbox.id']).toBe('pod-1');
    const other = named('example.Other/Call').attributes;
    expect([other['container.id'], other['containerd.sandbox.id']]).toEqual([undefined, undefined]);
  });

  it('spans concurrent calls separately', async () => {
    const other = '1'.repeat(32);
    await Promise.all([
      client.call(TASK, 'State', idPayload('a'), { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } }).catch(() => {}),
      client.call(TASK, 'State', idPayload('b'), { metadata: { traceparent: `00-${other}-${PARENT}-01` } }).catch(() => {}),
    ]);
    const byId = Object.fromEntries(spans().map((s) => [s.attributes['container.id'], s.spanContext().traceId]));
    expect(byId).toEqual({ a: TRACE, b: other });
  });
});
