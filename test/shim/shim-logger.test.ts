// The daemon's logger writes containerd-style JSON lines into the bundle's `log` fifo and never
// blocks or throws when containerd is not reading (restarting).
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createFollowingShimLogger, createShimLogger } from '../../src/telemetry/logger';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-log-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('lines carry id and namespace and reach the fifo reader', async () => {
  const fifo = path.join(dir, 'log');
  execFileSync('mkfifo', [fifo]);
  const reader = createReadStream(fifo);
  let text = '';
  reader.on('data', (d) => (text += d.toString()));
  const log = createShimLogger({ logPath: fifo, level: 'info', base: { id: 'c1', namespace: 'default' } });
  log.info({ extra: 1 }, 'hello containerd');
  log.debug('not at info level');
  log.flush();
  const deadline = Date.now() + 2000;
  while (!text.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  reader.destroy();
  const line = JSON.parse(text.split('\n')[0]!);
  expect(line).toMatchObject({ level: 'info', id: 'c1', namespace: 'default', msg: 'hello containerd', extra: 1 });
  expect(text).not.toContain('not at info level');
});

test('a fifo nobody reads never blocks the event loop or throws', async () => {
  const fifo = path.join(dir, 'log');
  execFileSync('mkfifo', [fifo]);
  const log = createShimLogger({ logPath: fifo, level: 'info', base: { id: 'c2', namespace: 'default' } });
  // A blocking write into the full pipe would never return: the flood below would hang the test.
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  const big = 'x'.repeat(1000);
  expect(() => {
    for (let i = 0; i < 5000; i++) log.info({ big }, 'flood'); // ~5 MB into a 64 KiB pipe
  }).not.toThrow();
  await new Promise((r) => setTimeout(r, 200));
  clearInterval(timer);
  expect(ticks).toBeGreaterThan(0); // the event loop went on serving timers after the flood
});

test('a missing log path gives a silent logger (the daemon must still run)', () => {
  const log = createShimLogger({ logPath: path.join(dir, 'nope', 'log'), level: 'info', base: {} });
  expect(() => log.info('x')).not.toThrow();
});

test('a following logger moves to the fifo it is told to follow, and an unread one never blocks it', async () => {
  const [first, second] = ['first', 'second'].map((name) => path.join(dir, name));
  for (const fifo of [first!, second!]) execFileSync('mkfifo', [fifo]);
  const { logger, follow } = createFollowingShimLogger({ logPath: first!, level: 'info', base: { id: 'c3', namespace: 'default' } });
  const big = 'x'.repeat(1000);
  expect(() => {
    for (let i = 0; i < 200; i++) logger.info({ big }, 'nobody reads this'); // ~200 KB into a 64 KiB pipe
  }).not.toThrow();
  const reader = createReadStream(second!);
  let text = '';
  reader.on('data', (d) => (text += d.toString()));
  follow(second!);
  follow(path.join(dir, 'missing', 'log')); // cannot be opened: keeps the second
  logger.info('after the move');
  const deadline = Date.now() + 2000;
  while (!text.includes('\n') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  reader.destroy();
  expect(JSON.parse(text.split('\n')[0]!)).toMatchObject({ id: 'c3', msg: 'after the move' });
  expect(text).not.toContain('nobody reads this');
});
