#!/usr/bin/env node
// Bundles each binary into one CommonJS file under dist/ so that start-up reads a single file.
// Modules reached only through `import()` (the daemon) stay in the bundle but are evaluated
// lazily. Tracing is the exception: OpenTelemetry would triple the shim bundle (0.85 → 2.4 MiB)
// and every `start` would pay ~20 ms to parse it, so src/telemetry/tracing.ts becomes its own
// dist/tracing.js, loaded by the daemon only when tracing is enabled.
// The daemon itself stays in the shim bundle on purpose: built as a separate file that the
// binary require()s (so that `start` parses 45 KB instead of 0.85 MiB), `start` got ~10 ms
// faster but the daemon's first reply ~45 ms slower and its RSS 12 MiB larger (measured), and a
// new container pays both.
import { build } from 'esbuild';
import { access, chmod, copyFile } from 'node:fs/promises';
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

/** Resolves telemetry's `import('./tracing')` to the separate dist/tracing.js at run time. */
const splitTracing = {
  name: 'split-tracing',
  setup(b) {
    b.onResolve({ filter: /^\.\/tracing$/ }, (args) =>
      args.importer.endsWith(path.join('src', 'telemetry', 'index.ts')) ? { path: './tracing.js', external: true } : undefined,
    );
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
      plugins: [splitTracing],
    });
    await chmod(outfile, 0o755);
  }),
  build({ ...common, entryPoints: ['src/telemetry/tracing.ts'], outfile: 'dist/tracing.js' }),
]);

// The shim's launcher (native/launcher, built by build:native with the addon) goes beside the
// bundle it hands over to: it answers `start` for a live daemon without a Node boot and runs
// dist/containerd-shim-mica-v2.js for everything else. containerd runs dist/containerd-shim-mica-v2.
const launcher = 'native/build/Release/containerd-shim-mica-v2';
try {
  await access(launcher);
} catch {
  throw new Error(`${launcher} is missing: run \`npm run build:native\` first (npm ci does both)`);
}
await copyFile(launcher, 'dist/containerd-shim-mica-v2');
await chmod('dist/containerd-shim-mica-v2', 0o755);
