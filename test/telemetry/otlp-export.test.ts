// The real OTLP/gRPC exporter path of startTracing (batching, gRPC, protobuf) against the test
// receiver: what a collector gets is what the in-memory tests see.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeMica } from '../runtime/fake-mica';
import { serve, sleep, type Served } from '../ttrpc/helpers';
import { startTracing } from '../../src/telemetry/tracing';
import { toStatus, TtrpcClient } from '../../src/ttrpc';
import type { MicaClient } from '../../src/mica/types';
import { startOtlpReceiver, type OtlpReceiver } from './otlp-receiver';

const TASK = 'containerd.task.v2.Task';
const TRACE = '5b8efff798038103d269b633813fc60c';
const PARENT = 'eee19b7ec3c1b174';

let receiver: OtlpReceiver;
let served: Served;
let shutdown: () => Promise<void>;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  served = await serve((server) => {
    const fake = new FakeMica();
    let mica: MicaClient = fake;
    const tracing = startTracing({
      server,
      mica: fake,
      serviceName: 'containerd-shim-mica-v2',
      attributes: { namespace: 'default' },
      logger: { info: () => {}, warn: () => {} },
      endpoint: receiver.endpoint,
      statusOf: toStatus,
    });
    mica = tracing.mica;
    shutdown = tracing.shutdown;
    server.register(TASK, {
      Create: async () => {
        await mica.create({ name: 'default-x', firmwarePath: '/fw.elf' });
        return new Uint8Array();
      },
    });
  });
});

afterAll(async () => {
  await served?.cleanup();
  await receiver?.close();
});

describe('OTLP/gRPC export', () => {
  it('delivers the server span and its micad child to a collector, flushed by shutdown', async () => {
    const client = await TtrpcClient.connect(served.socketPath);
    await client.call(TASK, 'Create', new Uint8Array([0x0a, 1, 0x78]), { metadata: { traceparent: `00-${TRACE}-${PARENT}-01` } });
    client.close();
    await sleep(20); // well inside the batch delay: only shutdown's flush can deliver in time
    await shutdown();
    const server = receiver.spans.find((s) => s.name === `${TASK}/Create`);
    const child = receiver.spans.find((s) => s.name === 'micad create');
    expect(server).toMatchObject({
      service: 'containerd-shim-mica-v2',
      kind: 2,
      traceId: TRACE,
      parentSpanId: PARENT,
      attributes: { 'rpc.system': 'ttrpc', 'container.id': 'x', namespace: 'default', 'rpc.grpc.status_code': 0 },
    });
    expect(child).toMatchObject({ kind: 3, traceId: TRACE, parentSpanId: server?.spanId, attributes: { 'mica.instance': 'default-x' } });
    await shutdown(); // a second shutdown is harmless
  });
});
