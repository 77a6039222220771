#!/usr/bin/env node
// Bundles each binary into one CommonJS file under dist/ so that start-up reads a single file.
// Modules reached only through `import()` (daemon, telemetry) stay in the bundle but are
// evaluated lazily, which keeps the `start` one-shot cheap.
import { build } from 'esbuild';
import { chmod } from 'node:fs/promises';

const binaries = {
  'containerd-shim-mica-v2': 'src/shim/main.ts',
  'micad-sim': 'src/sim/main.ts',
  micrun: 'src/cli/main.ts',
};

await Promise.all(
  Object.entries(binaries).map(async ([name, entry]) => {
    const outfile = `dist/${name}.js`;
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'cjs',
      sourcemap: 'linked',
      banner: { js: '#!/usr/bin/env node' },
      // The N-API addon is loaded from native/build at run time (see src/mica/addon.ts).
      external: ['*.node'],
      logLevel: 'warning',
    });
    await chmod(outfile, 0o755);
  }),
);
