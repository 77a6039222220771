#!/usr/bin/env node
// Builds the libmica N-API addon (native/) with node-gyp against the headers of the Node that
// runs this script when they are installed beside it (Debian's /usr/include/node), so the build
// needs no header download and no npm `nodedir` setting.
//
// Runs as the package's `install` script: in a checkout (npm ci) with node-gyp from
// devDependencies, and when a node installs the packed tarball (npm install -g micrun-*.tgz),
// where devDependencies are absent and npm's own node-gyp (npm_config_node_gyp) builds it. A
// missing compiler is named in one line before node-gyp's long log.
import { spawnSync } from 'node:child_process';
import { accessSync, chmodSync, constants, copyFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const prefix = path.resolve(process.execPath, '../..');
const args = ['rebuild', '--directory=native'];
if (existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);

const onPath = (name) =>
  (process.env.PATH ?? '').split(':').some((dir) => {
    try {
      accessSync(path.join(dir || '.', name), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
const missing = [['python3'], ['make'], ['cc', 'gcc', 'clang']].filter((names) => !names.some(onPath)).map((names) => names[0]);
if (missing.length > 0) {
  console.error(
    `micrun: cannot build the libmica addon: ${missing.join(', ')} not found. ` +
      'Install them (Debian: apt-get install --no-install-recommends python3 make gcc libc6-dev) and install micrun again.',
  );
  process.exit(1);
}

function nodeGyp() {
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    const bundled = process.env.npm_config_node_gyp;
    if (bundled && existsSync(bundled)) return bundled;
    console.error('micrun: node-gyp not found (neither in node_modules nor npm_config_node_gyp): install micrun with npm');
    process.exit(1);
  }
}

const { status } = spawnSync(process.execPath, [nodeGyp(), ...args], { stdio: 'inherit' });
if (status !== 0) process.exit(status ?? 1);
// An installed package has dist/ already (built where it was packed): its shim launcher must be
// the one just built for this machine. In a checkout, `npm run build` copies it later.
const launcher = 'native/build/Release/containerd-shim-mica-v2';
if (existsSync('dist') && existsSync(launcher)) {
  copyFileSync(launcher, 'dist/containerd-shim-mica-v2');
  chmodSync('dist/containerd-shim-mica-v2', 0o755);
}
