#!/usr/bin/env node
// Bundles each binary into one CommonJS file under dist/ so that start-up reads little.
// The shim binary is run by containerd for every container (`start`), so it holds only argv
// parsing and `start`; its other actions (`serve` = the daemon, `delete`, `-info`) are reached
// through import() and built as their own files (dist/shim-<action>.js), which spares `start`
// parsing protobuf and the runtime (~0.85 MiB). Likewise OpenTelemetry (1.7 MiB) lives in
// dist/tracing.js, loaded by the daemon only when tracing is enabled.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';
import path from 'node:path';

const binaries = {
  'containerd-shim-mica-v2': 'src/shim/main.ts',
  'micad-sim': 'src/sim/main.ts',
  micrun: 'src/cli/main.ts',
};

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  sourcemap: 'linked',
  // The N-API addon is loaded from native/build at run time (see src/mica/addon.ts).
  external: ['*.node'],
  logLevel: 'warning',
};

/** Lazily imported modules built as separate files: importer, import specifier → dist file. */
const SPLITS = [
  { importer: 'src/telemetry/index.ts', specifier: './tracing', entry: 'src/telemetry/tracing.ts', out: 'tracing.js' },
  { importer: 'src/shim/main.ts', specifier: './serve', entry: 'src/shim/serve.ts', out: 'shim-serve.js' },
  { importer: 'src/shim/main.ts', specifier: './delete', entry: 'src/shim/delete.ts', out: 'shim-delete.js' },
  { importer: 'src/shim/main.ts', specifier: './info', entry: 'src/shim/info.ts', out: 'shim-info.js' },
];

/** Resolves those import()s to `require('./<out>')` next to the running bundle. */
const splitLazyModules = {
  name: 'split-lazy-modules',
  setup(b) {
    b.onResolve({ filter: /^\.\/\w+$/ }, (args) => {
      const split = SPLITS.find((s) => args.path === s.specifier && args.importer.endsWith(s.importer));
      return split ? { path: `./${split.out}`, external: true } : undefined;
    });
  },
};

await Promise.all([
  ...Object.entries(binaries).map(async ([name, entry]) => {
    const outfile = `dist/${name}.js`;
    await build({
      ...common,
      entryPoints: [entry],
      outfile,
      banner: { js: '#!/usr/bin/env node' },
      plugins: [splitLazyModules],
    });
    await chmod(outfile, 0o755);
  }),
  ...SPLITS.map((split) =>
    build({ ...common, entryPoints: [split.entry], outfile: `dist/${split.out}`, plugins: [splitLazyModules] }),
  ),
]);
