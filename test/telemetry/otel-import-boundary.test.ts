// "The domain never imports OpenTelemetry": only src/telemetry/tracing.ts may, and only
// index.ts's import() reaches it (a static import anywhere would load it with tracing off).
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const src = path.resolve(__dirname, '../../src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return sources(full);
    return /\.(ts|js|mts|cts)$/.test(e.name) ? [full] : [];
  });
}

const rel = (f: string) => path.relative(src, f).split(path.sep).join('/');

describe('OpenTelemetry import boundary', () => {
  const files = sources(src);

  it('finds the sources it checks', () => {
    expect(files.map(rel)).toContain('telemetry/tracing.ts');
  });

  it('only src/telemetry/tracing.ts imports @opentelemetry packages', () => {
    const importers = files.filter((f) => /from\s+['"]@opentelemetry\/|import\s+['"]@opentelemetry\/|import\(\s*['"]@opentelemetry\/|require\(\s*['"]@opentelemetry\//.test(readFileSync(f, 'utf8')));
    expect(importers.map(rel)).toEqual(['telemetry/tracing.ts']);
  });

  it('reaches tracing.ts only through a dynamic import() in telemetry/index.ts', () => {
    const staticImport = /(?:from\s+|require\(\s*)['"](?:\.\.?\/)+(?:telemetry\/)?tracing['"]/;
    const offenders = files.filter((f) => rel(f) !== 'telemetry/tracing.ts' && staticImport.test(readFileSync(f, 'utf8')));
    expect(offenders.map(rel)).toEqual([]);
    expect(readFileSync(path.join(src, 'telemetry/index.ts'), 'utf8')).toMatch(/await import\('\.\/tracing'\)/);
  });
});
