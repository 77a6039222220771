// A shared daemon's log names each container once, and no container on its own lines
// (regression: its base logger carried the first container's id, so container p5's lines read
// `"id":"p0", … "id":"p5"`).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, it, vi } from 'vitest';
import { daemonLogOptions } from '../../src/shim/daemon-log';
import { TaskIO } from '../../src/shim/io';
import { createFollowingShimLogger, createShimLogger, type Logger } from '../../src/telemetry/logger';

let bundle: string;
beforeEach(() => {
  bundle = mkdtempSync(path.join(tmpdir(), 'micrun-daemon-log-'));
  writeFileSync(path.join(bundle, 'log'), ''); // a regular file stands in for the fifo
});
afterEach(() => rmSync(bundle, { recursive: true, force: true }));

const factories: [string, (opts: ReturnType<typeof daemonLogOptions>) => Logger][] = [
  ['a namespace daemon (following logger)', (opts) => createFollowingShimLogger(opts).logger],
  ['a pod daemon', (opts) => createShimLogger(opts)],
];

it.each(factories)('%s: a container line carries its own id exactly once; a daemon line none', async (_, create) => {
  const log = create(daemonLogOptions(bundle, 'k8s.io', 'debug'));
  log.info('shim daemon serving');
  // p0 started the daemon; p5 came later. Lines as the runtime and TaskIO write them.
  log.info({ id: 'p0', exitStatus: 0 }, 'task exited');
  const io = await TaskIO.open({ stdin: '', stdout: '', stderr: '', terminal: false }, { containerId: 'p5', namespace: 'k8s.io', logger: log });
  await io.close();
  log.info({ id: 'p5', exitStatus: 0 }, 'task exited');
  log.flush?.();
  // The pod daemon's destination writes asynchronously: wait until all five lines landed.
  const read = () => readFileSync(path.join(bundle, 'log'), 'utf8').split('\n').filter(Boolean);
  await vi.waitFor(() => expect(read()).toHaveLength(5), { timeout: 10_000 });
  const lines = read();
  const idsIn = (line: string) => line.match(/"id":/g)?.length ?? 0;
  const parsed = lines.map((line) => ({ raw: line, ...(JSON.parse(line) as { msg: string; id?: string; namespace: string }) }));
  expect(parsed.map((l) => l.msg)).toEqual(['shim daemon serving', 'task exited', 'task io opened', 'task io closed', 'task exited']);
  for (const l of parsed) expect(l.namespace).toBe('k8s.io');
  expect(idsIn(parsed[0]!.raw)).toBe(0);
  expect(parsed.slice(1).map((l) => [idsIn(l.raw), l.id])).toEqual([
    [1, 'p0'],
    [1, 'p5'],
    [1, 'p5'],
    [1, 'p5'],
  ]);
});
