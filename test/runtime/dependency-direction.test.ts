// Pins the dependency direction of design.md: shim → runtime → {mica, oci, config}; ttrpc and
// telemetry are leaves used by shim; the `start` one-shot stays free of heavy modules.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, test } from 'vitest';

const src = path.resolve(__dirname, '../../src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = path.join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** Every module specifier a file imports (static and dynamic), resolved to src-relative dirs. */
function imports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!);
  return specs.map((s) => (s.startsWith('.') ? path.relative(src, path.resolve(path.dirname(file), s)) : `pkg:${s}`));
}

const layer = (rel: string) => rel.split(path.sep)[0]!;

describe('dependency direction', () => {
  test('runtime imports only mica, oci, config, errors, itself and node built-ins', () => {
    for (const f of files(path.join(src, 'runtime'))) {
      for (const dep of imports(f)) {
        const ok = dep.startsWith('pkg:node:') || ['runtime', 'mica', 'oci', 'config', 'errors'].includes(layer(dep));
        expect(ok, `${path.relative(src, f)} imports ${dep}`).toBe(true);
      }
    }
  });

  test('mica, oci and config never import runtime or shim', () => {
    for (const dir of ['mica', 'oci', 'config']) {
      for (const f of files(path.join(src, dir))) {
        for (const dep of imports(f)) {
          expect(['runtime', 'shim'].includes(layer(dep)), `${path.relative(src, f)} imports ${dep}`).toBe(false);
        }
      }
    }
  });

  test('ttrpc and telemetry know nothing of shim or runtime', () => {
    for (const dir of ['ttrpc', 'telemetry']) {
      for (const f of files(path.join(src, dir))) {
        for (const dep of imports(f)) {
          expect(['runtime', 'shim'].includes(layer(dep)), `${path.relative(src, f)} imports ${dep}`).toBe(false);
        }
      }
    }
  });

  test('the start one-shot and the early daemon path import only node built-ins and light shim modules', () => {
    const light = new Set([
      'shim/args', 'shim/socket-address', 'shim/socket-probe', 'shim/early-listener', 'shim/startup-failure', 'shim/bootstrap', 'shim/config-choice',
      'shim/start-options', 'config', 'errors', 'shim/daemon', 'oci/cri-annotations',
    ]);
    const oneShotModules = ['start.ts', 'serve.ts', 'early-listener.ts', 'startup-failure.ts', 'args.ts', 'socket-address.ts', 'socket-probe.ts'];
    for (const name of [...oneShotModules, 'bootstrap.ts', 'config-choice.ts', 'start-options.ts']) {
      for (const dep of imports(path.join(src, 'shim', name))) {
        const ok = dep.startsWith('pkg:node:') || light.has(dep);
        expect(ok, `shim/${name} imports ${dep}`).toBe(true);
      }
    }
  });

  test('main.ts loads every action lazily', () => {
    const text = readFileSync(path.join(src, 'shim', 'main.ts'), 'utf8');
    const staticImports = [...text.matchAll(/^import .* from ['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    expect(staticImports.sort()).toEqual(['../../package.json', './args']);
  });
});
