// Bundles a TypeScript benchmark (and the test harness it imports) into one CommonJS file for
// Node 20, the way the benchmarks run: native addons stay external (loaded from native/build).
import { build } from 'esbuild';

export function bundleForNode(entry, outfile) {
  return build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    external: ['*.node'],
    logLevel: 'warning',
  });
}
