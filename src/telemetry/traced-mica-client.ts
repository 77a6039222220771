// A MicaClient that reports each micad request as a child span of the ttrpc call it serves.
// It knows nothing of OpenTelemetry: it names the span (`micad <command>`, micad's own command
// words, `rm` not `remove`) and its attributes, and hands the work to a SpanRunner that
// tracing.ts implements. `exists()` is a stat of a socket file, not a request: not traced.
import type { CallOptions, CreateParams, MicaClient, ResourceKey } from '../mica/types';

export type SpanAttributes = Record<string, string | number | boolean>;

/** Runs `fn` inside a child span of the current call, or plainly when there is none. */
export type SpanRunner = <T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>) => Promise<T>;

export function tracedMicaClient(inner: MicaClient, run: SpanRunner): MicaClient {
  const span = <T>(command: string, instance: string, fn: () => Promise<T>, extra?: SpanAttributes) =>
    run(`micad ${command}`, { 'mica.command': command, 'mica.instance': instance, ...extra }, fn);
  return {
    create: (params: CreateParams, opts?: CallOptions) =>
      span('create', params.name, () => inner.create(params, opts), params.pedestal ? { 'mica.pedestal': params.pedestal } : undefined),
    start: (name, opts) => span('start', name, () => inner.start(name, opts)),
    stop: (name, opts) => span('stop', name, () => inner.stop(name, opts)),
    remove: (name, opts) => span('rm', name, () => inner.remove(name, opts)),
    status: (name, opts) => span('status', name, () => inner.status(name, opts)),
    set: (name, key: ResourceKey, value, opts) =>
      span('set', name, () => inner.set(name, key, value, opts), { 'mica.set.key': key }),
    pause: (name, opts) => span('pause', name, () => inner.pause(name, opts)),
    resume: (name, opts) => span('resume', name, () => inner.resume(name, opts)),
    info: (name, opts) => span('info', name, () => inner.info(name, opts)),
    exists: (name) => inner.exists(name),
  };
}
