import { describe, expect, it } from 'vitest';
import type { MicaClient } from '../../src/mica/types';
import { enableTracing, tracingEnabled, type TracingEnv } from '../../src/telemetry';

const config = (otlp_endpoint = '') => ({ telemetry: { otlp_endpoint } });

describe('tracingEnabled', () => {
  const cases: Array<[string, TracingEnv, string, boolean]> = [
    ['nothing configured', {}, '', false],
    ['OTEL_EXPORTER_OTLP_ENDPOINT', { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4317' }, '', true],
    ['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4317' }, '', true],
    ['config otlp_endpoint only', {}, 'http://collector:4317', true],
    ['blank endpoint variable', { OTEL_EXPORTER_OTLP_ENDPOINT: '  ' }, '', false],
    ['OTEL_SDK_DISABLED=true beats the env endpoint', { OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }, '', false],
    ['OTEL_SDK_DISABLED=TRUE beats the config endpoint', { OTEL_SDK_DISABLED: 'TRUE' }, 'http://c:4317', false],
    ['OTEL_SDK_DISABLED=false keeps it on', { OTEL_SDK_DISABLED: 'false' }, 'http://c:4317', true],
    ['OTEL_TRACES_EXPORTER=none', { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4317' }, '', false],
    ['OTEL_TRACES_EXPORTER list holding none', { OTEL_TRACES_EXPORTER: 'otlp, none' }, 'http://c:4317', false],
    ['OTEL_TRACES_EXPORTER=otlp', { OTEL_TRACES_EXPORTER: 'otlp' }, 'http://c:4317', true],
    ['OTEL_TRACES_EXPORTER=otlp without an endpoint', { OTEL_TRACES_EXPORTER: 'otlp' }, '', false],
  ];
  it.each(cases)('%s', (_name, env, endpoint, expected) => {
    expect(tracingEnabled(env, config(endpoint))).toBe(expected);
  });
});

describe('enableTracing', () => {
  it('keeps the daemon running untraced when the endpoint is not a URL', async () => {
    const warnings: string[] = [];
    const interceptors: unknown[] = [];
    const mica = { exists: () => true } as unknown as MicaClient;
    const tracing = await enableTracing({
      server: { use: (i) => interceptors.push(i) },
      mica,
      serviceName: 'test',
      logger: { info: () => {}, warn: (_o, msg) => warnings.push(msg) },
      endpoint: 'not a url',
    });
    expect(tracing.mica).toBe(mica);
    expect(interceptors).toHaveLength(0);
    expect(warnings.join('\n')).toMatch(/tracing disabled: cannot set up the OTLP exporter/);
    await tracing.shutdown();
  });
});
