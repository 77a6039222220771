// "Tracing off loads no OpenTelemetry": index.ts is bundled the way the shim is (esbuild, CJS)
// but with packages left external, so every @opentelemetry module that gets evaluated shows up
// in the child process's require.cache. The same child then turns tracing on, which must load
// them — otherwise the first check proves nothing.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = path.resolve(__dirname, '../..');
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-otel-lazy-'));
  await build({
    entryPoints: [path.join(root, 'src/telemetry/index.ts')],
    outfile: path.join(dir, 'telemetry.cjs'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    logLevel: 'error',
  });
  writeFileSync(
    path.join(dir, 'probe.cjs'),
    `
const otel = () => Object.keys(require.cache).filter((k) => k.includes('@opentelemetry')).length;
const t = require('./telemetry.cjs');
const env = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' };
const report = { enabled: t.tracingEnabled(env, { telemetry: { otlp_endpoint: '' } }), beforeEnable: otel() };
const mica = { exists: () => false };
t.enableTracing({ server: { use() {} }, mica, serviceName: 'probe', logger: { info() {}, warn() {} }, endpoint: env.OTEL_EXPORTER_OTLP_ENDPOINT })
  .then(async (tracing) => {
    report.afterEnable = otel();
    await tracing.shutdown();
    process.stdout.write(JSON.stringify(report));
  });
`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tracing is loaded lazily', () => {
  it('evaluates no @opentelemetry module until enableTracing is called', () => {
    const out = execFileSync(process.execPath, [path.join(dir, 'probe.cjs')], {
      env: { ...process.env, NODE_PATH: path.join(root, 'node_modules') },
      encoding: 'utf8',
      timeout: 20_000,
    });
    const report = JSON.parse(out) as { enabled: boolean; beforeEnable: number; afterEnable: number };
    expect(report.enabled).toBe(true);
    expect(report.beforeEnable).toBe(0);
    expect(report.afterEnable).toBeGreaterThan(10);
  });
});
