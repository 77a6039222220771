// Tracing, loaded only through index.ts's import() when an OTLP endpoint is configured: the one
// module that imports OpenTelemetry. A ttrpc server interceptor opens a SERVER span per call
// (parented on the caller's W3C `traceparent` from the ttrpc metadata), and a MicaClient wrapper
// opens a CLIENT span per micad request made while that call runs. Spans are batched and sent
// over OTLP/gRPC.
//
// Packages: sdk-trace-base's BasicTracerProvider + BatchSpanProcessor and the gRPC OTLP exporter,
// not sdk-node (which evaluates every instrumentation and exporter it knows and took ~0.5 s here;
// see scripts/bench/otel-load.mjs for what this module costs).
//
// Context: no global context manager is registered (there is no async-hooks one installed, and a
// global would leak into tests and other libraries). The current call travels in this module's
// own AsyncLocalStorage and is handed to startSpan explicitly.
import { AsyncLocalStorage } from 'node:async_hooks';
import {
  createTraceState,
  diag,
  DiagLogLevel,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { Code } from '../errors';
import type { Interceptor, Metadata, WireStatus } from '../ttrpc';
import type { EnableTracingOptions, Tracing, TracingLogger } from './index';
import { leadingStringField } from './request-id';
import { parseTraceparent } from './trace-context';
import { tracedMicaClient, type SpanRunner } from './traced-mica-client';

/**
 * Services whose every request starts with an id (field 1, see request-id.ts), and the span
 * attribute it becomes: the Task service's container id, the Sandbox service's sandbox id.
 */
const ID_ATTRIBUTE: Readonly<Record<string, string>> = {
  'containerd.task.v2.Task': 'container.id',
  'containerd.runtime.sandbox.v1.Sandbox': 'containerd.sandbox.id',
};
/** Short, so spans of a call reach the collector about when the call's effects are visible. */
const BATCH_DELAY_MS = 200;
const EXPORT_TIMEOUT_MS = 5_000;
/** Bound on shutdown: an unreachable collector must not keep the daemon from exiting. */
const SHUTDOWN_TIMEOUT_MS = 3_000;

export interface StartTracingOptions extends EnableTracingOptions {
  /**
   * The server's own error → status mapping (ttrpc's toStatus), passed in rather than imported
   * so that this module shares CodedError's identity with the daemon even if it is ever bundled
   * apart from it, and carries no ttrpc code of its own.
   */
  statusOf: (err: unknown, signal?: AbortSignal) => WireStatus;
  /** Tests: where spans go instead of OTLP/gRPC. */
  exporter?: SpanExporter;
  /** Tests: export each span as it ends instead of batching. */
  batch?: boolean;
}

/**
 * The ttrpc call a piece of async work belongs to. `open` turns false when the call answered:
 * timers armed during a call (the exit poller started by Start) inherit this store, and their
 * micad requests must not become children of a span that already ended.
 */
interface CallScope {
  context: Context;
  open: boolean;
}

export function startTracing(options: StartTracingOptions): Tracing {
  const { logger } = options;
  routeDiagnostics(logger);
  const exporter = options.exporter ?? new OTLPTraceExporter({ ...(options.endpoint ? { url: options.endpoint } : {}), timeoutMillis: EXPORT_TIMEOUT_MS });
  const processor: SpanProcessor =
    options.batch === false
      ? new SimpleSpanProcessor(exporter)
      : new BatchSpanProcessor(exporter, { scheduledDelayMillis: BATCH_DELAY_MS, exportTimeoutMillis: EXPORT_TIMEOUT_MS });
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(resourceFromAttributes({ 'service.name': options.serviceName, 'process.pid': process.pid })),
    spanProcessors: [processor],
  });
  const tracer = provider.getTracer('micrun');
  const scope = new AsyncLocalStorage<CallScope>();

  options.server.use(callInterceptor(tracer, scope, options.attributes ?? {}, options.statusOf));
  const mica = tracedMicaClient(options.mica, childSpanRunner(tracer, scope, options.statusOf));

  let stopped: Promise<void> | undefined;
  const shutdown = () =>
    (stopped ??= withTimeout(provider.shutdown(), SHUTDOWN_TIMEOUT_MS).then(
      (inTime) => {
        if (!inTime) logger.warn({ timeoutMs: SHUTDOWN_TIMEOUT_MS }, 'tracing: spans not exported before shutdown timeout; dropped');
      },
      (err: unknown) => logger.warn({ err }, 'tracing: shutdown failed; buffered spans dropped'),
    ));
  logger.info({ endpoint: options.exporter ? 'custom exporter' : (options.endpoint ?? 'from OTEL_* environment') }, 'tracing enabled');
  return { mica, shutdown };
}

/** SERVER span per ttrpc call, named `<service>/<method>`, ended when the call answers. */
function callInterceptor(
  tracer: Tracer,
  scope: AsyncLocalStorage<CallScope>,
  base: Record<string, string>,
  statusOf: StartTracingOptions['statusOf'],
): Interceptor {
  return (ctx, payload, next) => {
    const parent = remoteParent(ctx.metadata);
    const attributes: Attributes = {
      ...base,
      'rpc.system': 'ttrpc',
      'rpc.service': ctx.service,
      'rpc.method': ctx.method,
    };
    const idKey = ID_ATTRIBUTE[ctx.service];
    if (idKey !== undefined) {
      const id = leadingStringField(payload);
      if (id !== undefined) attributes[idKey] = id;
    }
    const span = tracer.startSpan(`${ctx.service}/${ctx.method}`, { kind: SpanKind.SERVER, attributes }, parent);
    const call: CallScope = { context: trace.setSpan(parent, span), open: true };
    let result: Promise<Uint8Array>;
    try {
      result = scope.run(call, next);
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(
      (reply) => {
        call.open = false;
        span.setAttribute('rpc.grpc.status_code', Code.OK);
        span.end();
        return reply;
      },
      (err: unknown) => {
        call.open = false;
        // The same mapping the server applies to the reply, so the span shows the code sent.
        const status = statusOf(err, ctx.signal);
        span.setAttribute('rpc.grpc.status_code', status.code);
        endWithError(span, err, status.code, status.message);
        throw err;
      },
    );
  };
}

/** CLIENT span under the current call; outside a call (or after it answered) no span at all. */
function childSpanRunner(tracer: Tracer, scope: AsyncLocalStorage<CallScope>, statusOf: StartTracingOptions['statusOf']): SpanRunner {
  return (name, attributes, fn) => {
    const call = scope.getStore();
    if (!call?.open) return fn();
    const span = tracer.startSpan(name, { kind: SpanKind.CLIENT, attributes }, call.context);
    let result;
    try {
      result = fn();
    } catch (err) {
      result = Promise.reject(err);
    }
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (err: unknown) => {
        const status = statusOf(err);
        endWithError(span, err, status.code, status.message);
        throw err;
      },
    );
  };
}

function endWithError(span: Span, err: unknown, code: Code, message: string): void {
  span.setAttribute('error.type', Code[code] ?? String(code));
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message });
  span.end();
}

/** The caller's span as a remote parent, or the root context (a new trace) without a valid one. */
function remoteParent(md: Metadata): Context {
  // Keys are lower-cased by the ttrpc server; several tracestate entries join with commas (W3C).
  const parent = parseTraceparent(md.get('traceparent')?.[0], md.get('tracestate')?.join(','));
  if (!parent) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: parent.traceId,
    spanId: parent.spanId,
    traceFlags: parent.traceFlags,
    isRemote: true,
    ...(parent.traceState ? { traceState: createTraceState(parent.traceState) } : {}),
  });
}

/** Export failures surface through OTel's diag channel: send warnings and errors to our log. */
function routeDiagnostics(logger: TracingLogger): void {
  const warn = (message: string, ...args: unknown[]) => logger.warn({ otel: args.length ? args.map(String) : undefined }, `tracing: ${message}`);
  diag.setLogger(
    { error: warn, warn, info: () => {}, debug: () => {}, verbose: () => {} },
    { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true },
  );
}

/** Resolves true when `p` settled in time, false on timeout; rejects when `p` rejects in time. */
function withTimeout(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([p.then(() => true), late]).finally(() => clearTimeout(timer));
}
