// Regression (issue 11, defect 2): micad-sim removed its --socket-dir recursively at start and at
// stop, so a typo deleted a directory as root and, on a board, a live micad's sockets. These
// drive the real MicadSim class (no QEMU is needed: no instance is created).
import * as fs from 'node:fs';
import { createServer, type Server } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Code } from '../../src/errors';
import { MicadSim } from '../../src/sim/micad-sim';
import { claimSocketDir } from '../../src/sim/socket-dir';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'msim-dir-'));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function newSim(socketDir: string, stateDir: string): MicadSim {
  const sim = new MicadSim({ socketDir, stateDir, qemuPath: 'qemu-system-arm', log: () => undefined });
  cleanup.push(() => sim.shutdown());
  return sim;
}

async function listenOn(socketPath: string): Promise<Server> {
  const server = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  cleanup.push(() => new Promise((resolve) => server.close(resolve)));
  return server;
}

/** A unix socket file nobody listens on, as a crashed micad leaves behind. */
async function staleSocket(socketPath: string): Promise<void> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  // Closing normally unlinks the path; a crash does not. Keep a hard link to restore it.
  fs.linkSync(socketPath, `${socketPath}.keep`);
  await new Promise((resolve) => server.close(resolve));
  fs.renameSync(`${socketPath}.keep`, socketPath);
}

describe('micad-sim socket dir', () => {
  it('keeps files it did not make, at start and at shutdown', async () => {
    const base = tempDir();
    const socketDir = path.join(base, 'mica');
    fs.mkdirSync(socketDir);
    fs.writeFileSync(path.join(socketDir, 'precious.txt'), 'keep me');
    fs.mkdirSync(path.join(socketDir, 'sub'));
    fs.writeFileSync(path.join(socketDir, 'sub', 'deep.txt'), 'keep me too');

    const sim = newSim(socketDir, path.join(base, 'state'));
    await sim.start();
    expect(fs.statSync(path.join(socketDir, 'mica-create.socket')).isSocket()).toBe(true);
    expect(fs.readFileSync(path.join(socketDir, 'precious.txt'), 'utf8')).toBe('keep me');
    await sim.shutdown();

    expect(fs.readdirSync(socketDir).sort()).toEqual(['precious.txt', 'sub']);
    expect(fs.readFileSync(path.join(socketDir, 'sub', 'deep.txt'), 'utf8')).toBe('keep me too');
  });

  it('removes a directory it made itself once it is empty again', async () => {
    const base = tempDir();
    const socketDir = path.join(base, 'a', 'mica');
    const sim = newSim(socketDir, path.join(base, 'state'));
    await sim.start();
    await sim.shutdown();
    expect(fs.existsSync(socketDir)).toBe(false);
  });

  it('refuses a directory where a live micad answers, and touches nothing in it', async () => {
    const socketDir = tempDir();
    await listenOn(path.join(socketDir, 'mica-create.socket'));
    await listenOn(path.join(socketDir, 'fw1.socket'));
    fs.writeFileSync(path.join(socketDir, 'note'), 'x');

    const sim = newSim(socketDir, path.join(tempDir(), 'state'));
    await expect(sim.start()).rejects.toThrow(/a live micad already serves .*mica-create\.socket answers/);
    await expect(claimSocketDir(socketDir)).rejects.toMatchObject({ code: Code.FailedPrecondition });
    await sim.shutdown();
    expect(fs.readdirSync(socketDir).sort()).toEqual(['fw1.socket', 'mica-create.socket', 'note']);
  });

  it('refuses when only an instance socket of a live micad answers', async () => {
    const socketDir = tempDir();
    await staleSocket(path.join(socketDir, 'mica-create.socket'));
    await listenOn(path.join(socketDir, 'fw1.socket'));
    await expect(claimSocketDir(socketDir)).rejects.toThrow(/fw1\.socket answers/);
    expect(fs.existsSync(path.join(socketDir, 'mica-create.socket'))).toBe(true);
  });

  it('removes stale micad sockets nobody listens on, and only those', async () => {
    const socketDir = tempDir();
    await staleSocket(path.join(socketDir, 'mica-create.socket'));
    await staleSocket(path.join(socketDir, 'old.socket'));
    fs.writeFileSync(path.join(socketDir, 'plain.socket'), 'a regular file, not a socket');

    const claim = await claimSocketDir(socketDir);
    expect(claim).toEqual({ made: false, removedStale: [path.join(socketDir, 'mica-create.socket'), path.join(socketDir, 'old.socket')] });
    expect(fs.readdirSync(socketDir)).toEqual(['plain.socket']);

    const sim = newSim(socketDir, path.join(tempDir(), 'state'));
    await sim.start(); // binds mica-create.socket again
    expect(fs.statSync(path.join(socketDir, 'mica-create.socket')).isSocket()).toBe(true);
  });

  it('refuses a relative path with InvalidArgument and creates nothing', async () => {
    const relative = `msim-relative-${process.pid}/mica`;
    await expect(claimSocketDir(relative)).rejects.toMatchObject({ code: Code.InvalidArgument });
    expect(fs.existsSync(path.resolve(relative, '..'))).toBe(false);
  });
});
