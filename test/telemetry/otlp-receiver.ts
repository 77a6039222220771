// A minimal OTLP/gRPC trace receiver for tests: serves
// opentelemetry.proto.collector.trace.v1.TraceService/Export on 127.0.0.1:<free port> with
// @grpc/grpc-js, decoding with protobufjs from our own protos/otlp subset, and keeps every span
// in a flat, hex-id form that assertions can read.
import path from 'node:path';
import { Server, ServerCredentials, type ServiceDefinition, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const PROTO_ROOT = path.resolve(__dirname, '../../protos/otlp');
const SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

export interface ReceivedSpan {
  service: string;
  name: string;
  kind: number;
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  /** 0 unset, 1 ok, 2 error */
  statusCode: number;
  statusMessage: string;
  attributes: Record<string, string | number | boolean>;
}

export interface OtlpReceiver {
  endpoint: string;
  spans: ReceivedSpan[];
  exports: number;
  close(): Promise<void>;
}

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toNumber(): number };
  doubleValue?: number;
}
interface KeyValue {
  key: string;
  value?: AnyValue;
}
interface WireSpan {
  traceId: Uint8Array;
  spanId: Uint8Array;
  parentSpanId: Uint8Array;
  traceState: string;
  name: string;
  kind: number;
  attributes: KeyValue[];
  status?: { code?: number; message?: string };
}
interface ExportRequest {
  resourceSpans: Array<{ resource?: { attributes: KeyValue[] }; scopeSpans: Array<{ spans: WireSpan[] }> }>;
}

const hex = (b: Uint8Array | undefined) => Buffer.from(b ?? []).toString('hex');

function valueOf(v: AnyValue | undefined): string | number | boolean {
  if (!v) return '';
  if (v.stringValue !== undefined && v.stringValue !== '') return v.stringValue;
  if (v.intValue !== undefined) return typeof v.intValue === 'number' ? v.intValue : v.intValue.toNumber();
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.stringValue ?? '';
}

const attrs = (kvs: KeyValue[] | undefined) => Object.fromEntries((kvs ?? []).map((kv) => [kv.key, valueOf(kv.value)]));

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => (path.isAbsolute(target) ? target : path.join(PROTO_ROOT, target));
  await root.load(SERVICE_PROTO, { keepCase: false });
  const Request = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const Response = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');

  const receiver: OtlpReceiver = { endpoint: '', spans: [], exports: 0, close: async () => {} };
  const definition: ServiceDefinition = {
    Export: {
      path: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
      requestStream: false,
      responseStream: false,
      requestSerialize: (m: object) => Buffer.from(Request.encode(m).finish()),
      requestDeserialize: (b: Buffer) => Request.toObject(Request.decode(b), { defaults: true, oneofs: false }),
      responseSerialize: (m: object) => Buffer.from(Response.encode(m).finish()),
      responseDeserialize: (b: Buffer) => Response.decode(b),
    },
  };
  const server = new Server();
  server.addService(definition, {
    Export: (call: ServerUnaryCall<ExportRequest, object>, callback: sendUnaryData<object>) => {
      receiver.exports++;
      for (const rs of call.request.resourceSpans) {
        const service = String(attrs(rs.resource?.attributes)['service.name'] ?? '');
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            receiver.spans.push({
              service,
              name: s.name,
              kind: s.kind,
              traceId: hex(s.traceId),
              spanId: hex(s.spanId),
              parentSpanId: hex(s.parentSpanId),
              traceState: s.traceState,
              statusCode: s.status?.code ?? 0,
              statusMessage: s.status?.message ?? '',
              attributes: attrs(s.attributes),
            });
          }
        }
      }
      callback(null, {});
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  receiver.endpoint = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        server.forceShutdown();
        resolve();
      }, 1_000);
      server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  return receiver;
}
