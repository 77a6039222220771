// src/telemetry: what the shim daemon reports beyond its reply bytes — logs (logger.ts, pino into
// containerd's log fifo) and traces (OpenTelemetry spans over OTLP/gRPC, only when enabled).
//
// Owns: the decision whether tracing is on (tracingEnabled), and turning it on
// (enableTracing): a ttrpc server interceptor with a SERVER span per call, a MicaClient wrapper
// with a CLIENT span per micad request, the exporter and its shutdown.
// Does not know: containerd's services or messages (only that Task requests start with the
// container id), the runtime domain (which never imports OpenTelemetry), or how the daemon is
// wired. This file is the only one the daemon imports statically, and it imports no
// OpenTelemetry code: tracing.ts is reached through import(), so a daemon with tracing off —
// and the `start` one-shot — never evaluate an @opentelemetry module.
import type { MicaClient } from '../mica/types';
import type { Interceptor } from '../ttrpc';
// status.ts alone (not the ttrpc index): the error mapping without the server, client and protos.
import { toStatus } from '../ttrpc/status';

/** Environment variables tracingEnabled reads (the standard OTel SDK ones). */
export type TracingEnv = Readonly<Record<string, string | undefined>>;

/**
 * True when an OTLP endpoint is configured — `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`,
 * `OTEL_EXPORTER_OTLP_ENDPOINT` or `[telemetry] otlp_endpoint` — unless `OTEL_SDK_DISABLED=true`
 * or `OTEL_TRACES_EXPORTER` is `none` (the SDK's own switches, so an operator's usual way of
 * turning OTel off works here too).
 */
export function tracingEnabled(env: TracingEnv, config: { telemetry: { otlp_endpoint: string } }): boolean {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '').split(',').map((s) => s.trim().toLowerCase());
  if (exporters.includes('none')) return false;
  return Boolean(
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || config.telemetry.otlp_endpoint.trim(),
  );
}

/** The parts of a logger tracing uses (a pino Logger fits). */
export interface TracingLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface EnableTracingOptions {
  /** The ttrpc server to wrap (TtrpcServer); the interceptor is added with `use()`. */
  server: { use(interceptor: Interceptor): void };
  /** The micad client whose requests become child spans. */
  mica: MicaClient;
  /** Resource `service.name`, e.g. `containerd-shim-mica-v2`. */
  serviceName: string;
  /** Put on every server span, e.g. `{ namespace }`. */
  attributes?: Record<string, string>;
  logger: TracingLogger;
  /**
   * OTLP/gRPC endpoint (`http://host:4317`). Default: what the OTel exporter reads from
   * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT. Pass
   * `config.telemetry.otlp_endpoint` (loadConfig already lets those variables win) so that an
   * endpoint set only in config.toml is used.
   */
  endpoint?: string;
}

export interface Tracing {
  /** `options.mica` wrapped: child spans per micad request. */
  mica: MicaClient;
  /** Exports what is buffered (bounded wait) and stops the exporter. Safe to call twice. */
  shutdown(): Promise<void>;
}

/**
 * Turns tracing on. A bad endpoint (not a URL) does not fail the daemon — by the time this runs,
 * `start` has told containerd the shim is up — it is logged and the daemon runs untraced.
 */
export async function enableTracing(options: EnableTracingOptions): Promise<Tracing> {
  const { startTracing } = await import('./tracing');
  try {
    return startTracing({ ...options, statusOf: toStatus });
  } catch (err) {
    options.logger.warn(
      { err, endpoint: options.endpoint },
      'tracing disabled: cannot set up the OTLP exporter; check OTEL_EXPORTER_OTLP_ENDPOINT or [telemetry] otlp_endpoint (e.g. http://127.0.0.1:4317)',
    );
    return { mica: options.mica, shutdown: async () => {} };
  }
}
