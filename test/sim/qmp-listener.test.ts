// micad-sim's QMP: it listens and QEMU connects its control monitor (`-chardev socket` + `-mon
// mode=control`), so no start polls for a socket QEMU has not made yet. The test plays QEMU.
import * as fs from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { Code } from '../../src/errors';
import { QmpClient } from '../../src/sim/qmp-client';
import { qemuArgs } from '../../src/sim/qemu-process';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function socketPath(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msim-qmp-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return path.join(dir, 'qmp.sock');
}

/** A QEMU monitor: greets, then answers every command with an empty return. */
function fakeQemu(socket: string, seen: string[]): Socket {
  const s = connect(socket);
  cleanup.push(() => s.destroy());
  s.setEncoding('utf8');
  s.once('connect', () => s.write('{"QMP": {"version": {}, "capabilities": []}}\n'));
  s.on('data', (chunk: string) => {
    for (const line of chunk.split('\n').filter(Boolean)) {
      const { execute, id } = JSON.parse(line) as { execute: string; id: string };
      seen.push(execute);
      s.write(`${JSON.stringify({ return: {}, id })}\n`);
    }
  });
  return s;
}

it('QEMU connecting after the listener is up: negotiated, and the socket file is gone', async () => {
  const socket = socketPath();
  const listener = await QmpClient.listen(socket);
  const accepted = listener.accept(5_000);
  const seen: string[] = [];
  fakeQemu(socket, seen);
  const qmp = await accepted;
  cleanup.push(() => qmp.close());
  expect(seen).toEqual(['qmp_capabilities']);
  await qmp.execute('cont');
  expect(seen).toEqual(['qmp_capabilities', 'cont']);
  expect(fs.existsSync(socket)).toBe(false); // nobody else can connect to this QEMU's monitor
});

it('QEMU never connects: DeadlineExceeded naming the socket', async () => {
  const socket = socketPath();
  const listener = await QmpClient.listen(socket);
  cleanup.push(() => listener.close());
  await expect(listener.accept(50)).rejects.toMatchObject({ code: Code.DeadlineExceeded, message: expect.stringContaining(socket) });
});

it('the QEMU argv connects the control monitor to that socket', () => {
  const args = qemuArgs({ machine: 'mps2-an385', firmwarePath: '/f.elf', consoleSocket: '/c.sock', qmpSocket: '/q.sock' });
  const joined = args.join(' ');
  expect(joined).toContain('-chardev socket,id=qmp,path=/q.sock -mon chardev=qmp,mode=control');
  expect(args).not.toContain('-qmp');
});
