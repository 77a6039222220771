#!/usr/bin/env node
// Measures what src/proto costs a bundled binary at start-up, for the two ways protobufjs can
// provide the messages: static code (pbjs static-module, what src/proto ships) and reflection
// (JSON descriptor + Root.fromJSON, then lookupType). Each variant is bundled like our binaries
// (esbuild, CJS, node20) and run in fresh processes; we time require() of the bundle plus the
// first encode/decode of a CreateTaskRequest and a TaskExit envelope, and the whole process.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { generateJson, repoRoot } from '../gen-proto.mjs';

const RUNS = Number(process.env.RUNS ?? 15);
const dir = mkdtempSync(path.join(tmpdir(), 'micrun-proto-startup-'));

const workload = (lookup) => `
  const Create = ${lookup('containerd.task.v2.CreateTaskRequest')};
  const Exit = ${lookup('containerd.events.TaskExit')};
  const Forward = ${lookup('containerd.services.events.ttrpc.v1.ForwardRequest')};
  const req = Create.decode(Create.encode({ id: 'c1', bundle: '/b', rootfs: [{ type: 'bind', source: '/s', options: ['rbind'] }], stdout: '/fifo' }).finish());
  if (req.id !== 'c1') throw new Error('round trip failed');
  const ev = Exit.encode({ containerId: 'c1', id: 'c1', pid: 42, exitStatus: 1, exitedAt: { seconds: 1700000000, nanos: 1 } }).finish();
  const env = Forward.decode(Forward.encode({ envelope: { timestamp: { seconds: 1, nanos: 0 }, namespace: 'default', topic: '/tasks/exit', event: { type_url: 'containerd.events.TaskExit', value: ev } } }).finish());
  if (env.envelope.topic !== '/tasks/exit') throw new Error('round trip failed');
`;

const variants = {
  static: {
    entry: `import { containerd } from ${JSON.stringify(path.join(repoRoot, 'src/proto'))};\n${workload((n) => n)}`,
  },
  reflection: {
    prepare: async () => generateJson(path.join(dir, 'descriptor.json')),
    entry: `import { Root } from 'protobufjs/light.js';
      import descriptor from './descriptor.json';
      const root = Root.fromJSON(descriptor);
      ${workload((n) => `root.lookupType(${JSON.stringify(n)})`)}`,
  },
};

const runner = (bundle) => `
  const t0 = process.hrtime.bigint();
  require(${JSON.stringify(bundle)});
  const t1 = process.hrtime.bigint();
  process.stdout.write(String(Number(t1 - t0) / 1e6));
`;

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = {};
for (const [name, v] of Object.entries(variants)) {
  await v.prepare?.();
  const entry = path.join(dir, `${name}-entry.ts`);
  writeFileSync(entry, v.entry);
  const bundle = path.join(dir, `${name}.js`);
  await build({
    entryPoints: [entry],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    logLevel: 'warning',
    absWorkingDir: repoRoot,
    nodePaths: [path.join(repoRoot, 'node_modules')],
  });
  const runnerFile = path.join(dir, `${name}-run.js`);
  writeFileSync(runnerFile, runner(bundle));
  const inProcess = [];
  const wall = [];
  for (let i = 0; i < RUNS; i++) {
    const t = process.hrtime.bigint();
    inProcess.push(Number(execFileSync(process.execPath, [runnerFile], { encoding: 'utf8' })));
    wall.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  results[name] = {
    bundleKiB: Math.round(statSync(bundle).size / 1024),
    requireAndFirstUseMs: +median(inProcess).toFixed(2),
    processWallMs: +median(wall).toFixed(1),
  };
}
rmSync(dir, { recursive: true, force: true });
console.table(results);
console.log(JSON.stringify({ runs: RUNS, results }));
