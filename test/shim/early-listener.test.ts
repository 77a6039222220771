// containerd dials the shim the moment `start` prints the address; the daemon is still loading
// its modules then. Calls made in that window must be answered once the server takes over.
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { EarlyListener } from '../../src/shim/early-listener';
import { TtrpcClient, TtrpcServer } from '../../src/ttrpc';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-early-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test('a call made before the ttrpc server exists is answered after the hand-over', async () => {
  const socket = path.join(dir, 's');
  const early = new EarlyListener();
  await early.listen(socket);
  expect(statSync(socket).mode & 0o777).toBe(0o600);

  const client = await TtrpcClient.connect(socket);
  const reply = client.call('test.Echo', 'Say', Buffer.from('early bird'), { timeoutMs: 5_000 });
  await new Promise((r) => setTimeout(r, 100)); // the request now waits in the held connection

  const server = new TtrpcServer();
  server.register('test.Echo', { Say: async (payload) => Buffer.concat([Buffer.from('heard: '), Buffer.from(payload)]) });
  await early.handOver((listener) => server.listenHandle(listener));
  expect(Buffer.from(await reply).toString()).toBe('heard: early bird');

  // New connections go straight to the server.
  const late = await TtrpcClient.connect(socket);
  expect(Buffer.from(await late.call('test.Echo', 'Say', Buffer.from('late'), { timeoutMs: 5_000 })).toString()).toBe('heard: late');
  client.close();
  late.close();
  await server.close();
});

test('a connection that closed while held is dropped, not served', async () => {
  const socket = path.join(dir, 's');
  const early = new EarlyListener();
  await early.listen(socket);
  const gone = await TtrpcClient.connect(socket);
  gone.close();
  await new Promise((r) => setTimeout(r, 50));
  const server = new TtrpcServer();
  server.register('test.Echo', { Say: async (p) => p });
  await early.handOver((listener) => server.listenHandle(listener));
  const ok = await TtrpcClient.connect(socket);
  expect(Buffer.from(await ok.call('test.Echo', 'Say', Buffer.from('x'), { timeoutMs: 5_000 })).toString()).toBe('x');
  ok.close();
  await server.close(100);
});

test('removeSocket removes our socket but never a newer daemon bound at the same path', async () => {
  const socket = path.join(dir, 's');
  const early = new EarlyListener();
  await early.listen(socket);
  early.removeSocket();
  expect(existsSync(socket)).toBe(false);

  const again = new EarlyListener();
  await again.listen(socket);
  unlinkSync(socket); // as if it had shut down, and a new daemon of the same group came up
  const newer = net.createServer();
  await new Promise<void>((r) => newer.listen(socket, r));
  again.removeSocket();
  expect(existsSync(socket)).toBe(true);
  await new Promise((r) => newer.close(r));
  early.server.close();
  again.server.close();
});

test('adopt refuses an fd that is not a socket, naming the fd', async () => {
  const file = path.join(dir, 'plain');
  writeFileSync(file, '');
  const fd = openSync(file, 'r');
  try {
    await expect(new EarlyListener().adopt(fd, path.join(dir, 's'))).rejects.toThrow(new RegExp(`fd ${fd} is not a socket`));
  } finally {
    closeSync(fd);
  }
});

test('ownsSocket is false once the path names another socket or nothing', async () => {
  const socket = path.join(dir, 's');
  const early = new EarlyListener();
  await early.listen(socket);
  expect(early.ownsSocket()).toBe(true);
  unlinkSync(socket);
  expect(early.ownsSocket()).toBe(false);
  const newer = net.createServer();
  await new Promise<void>((r) => newer.listen(socket, r));
  expect(early.ownsSocket()).toBe(false);
  await new Promise((r) => newer.close(r));
  early.server.close();
});

test('connectionCount counts the connections held before the hand-over', async () => {
  const socket = path.join(dir, 's');
  const early = new EarlyListener();
  await early.listen(socket);
  expect(await early.connectionCount()).toBe(0);
  const c = net.connect(socket);
  await new Promise((r) => c.once('connect', r));
  await new Promise((r) => setTimeout(r, 50));
  expect(await early.connectionCount()).toBe(1);
  c.destroy();
  await new Promise((r) => early.server.close(r));
});
