// The console bridge between a console client (pty slave) and QEMU's serial socket, with the
// test playing QEMU on the unix socket. Regression (issue 11, item 9): every backpressure
// episode on console input added a 'close' listener to QEMU's socket that stayed for the life of
// the connection.
import * as fs from 'node:fs';
import { connect, type Socket } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConsoleBridge } from '../../src/sim/console-bridge';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

const EPISODE_BYTES = 1024 * 1024; // far more than a unix socket and a pty buffer together
const EPISODES = 6;

/** Bridge + our "QEMU" end of its serial socket + a client holding the console's pty slave. */
async function bridgeWithQemu(): Promise<{ bridge: ConsoleBridge; qemu: Socket; slaveFd: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msim-bridge-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const bridge = ConsoleBridge.open();
  cleanup.push(() => bridge.close());
  const socketPath = path.join(dir, 'console.sock');
  await bridge.listen(socketPath);
  const qemu = connect(socketPath);
  cleanup.push(() => qemu.destroy());
  await new Promise<void>((resolve) => qemu.once('connect', resolve));
  const slaveFd = fs.openSync(bridge.path, fs.constants.O_RDWR | fs.constants.O_NOCTTY);
  cleanup.push(() => fs.closeSync(slaveFd));
  return { bridge, qemu, slaveFd };
}

/** The bridge's end of the QEMU connection (private; read for the listener count). */
const bridgeSide = (bridge: ConsoleBridge) => (bridge as unknown as { qemu: Socket | undefined }).qemu;

describe('console bridge', () => {
  it('keeps a fixed number of listeners on the QEMU socket over many input backpressure episodes (regression: one close listener per episode)', async () => {
    const { bridge, qemu, slaveFd } = await bridgeWithQemu();
    qemu.pause(); // QEMU's UART does not take input yet
    let received = 0;
    let mismatch = -1;
    qemu.on('data', (chunk: Buffer) => {
      for (let i = 0; i < chunk.length; i++) {
        if (mismatch < 0 && chunk[i] !== (received + i) % 251) mismatch = received + i;
      }
      received += chunk.length;
    });

    const listenerCounts: number[] = [];
    for (let episode = 0; episode < EPISODES; episode++) {
      const start = episode * EPISODE_BYTES;
      const data = Buffer.alloc(EPISODE_BYTES, 0);
      for (let i = 0; i < data.length; i++) data[i] = (start + i) % 251;
      // Typed while QEMU does not read: fills the socket, the bridge pauses the pty master,
      // the pty fills, and this write (on the thread pool) waits.
      const written = new Promise<void>((resolve, reject) =>
        fs.write(slaveFd, data, 0, data.length, null, (err) => (err ? reject(err) : resolve())),
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
      qemu.resume();
      await written;
      while (received < start + EPISODE_BYTES) await new Promise((resolve) => setTimeout(resolve, 5));
      qemu.pause();
      listenerCounts.push(bridgeSide(bridge)!.listenerCount('close'));
    }

    expect(mismatch).toBe(-1); // every byte, in order
    expect(received).toBe(EPISODES * EPISODE_BYTES);
    expect(new Set(listenerCounts).size).toBe(1); // not growing with the episodes
    expect(listenerCounts[0]).toBeLessThanOrEqual(2);
    expect(bridgeSide(bridge)!.listenerCount('drain')).toBeLessThanOrEqual(1);
  });
});
