#!/usr/bin/env node
// Builds the libmica N-API addon (native/) with node-gyp against the headers of the Node that
// runs this script when they are installed beside it (Debian's /usr/include/node), so the build
// needs no header download and no npm `nodedir` setting.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const prefix = path.resolve(process.execPath, '../..');
const args = ['rebuild', '--directory=native'];
if (existsSync(path.join(prefix, 'include/node/node_api.h'))) args.push(`--nodedir=${prefix}`);
const nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
const { status } = spawnSync(process.execPath, [nodeGyp, ...args], { stdio: 'inherit' });
process.exit(status ?? 1);
