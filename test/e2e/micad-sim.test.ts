// micad-sim end to end: the built daemon, real qemu-system-arm running our firmware fixtures,
// driven through the real MicaClient (libmica addon) and, for byte compatibility, through a
// Python client packing create_msg exactly like openEuler's mica.py.
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { createMicaClient } from '../../src/mica/client';
import { firmwarePath, openConsole, startMicadSim } from './harness/micad-sim';
import { useMicadSimClient } from './harness/micad-sim-client';
import { isAlive, waitFor } from './harness/processes';

const BANNER = 'micrun echo firmware ready';

const sim = useMicadSimClient();

async function codeOf(p: Promise<unknown>): Promise<Code> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CodedError) return err.code;
    throw err;
  }
  throw new Error('expected a failure');
}

/** PIDs of live processes whose command line mentions `needle` (read-only /proc scan). */
function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'latin1');
      if (cmdline.includes(needle) && cmdline.includes('qemu-system-arm')) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

describe('one echo instance', () => {
  it('create → start → banner → echo → status → set → pause/resume → stop → rm', async () => {
    await sim.mica.create({ name: 'echo1', firmwarePath: firmwarePath('echo'), cpus: '1' });
    expect(sim.mica.exists('echo1')).toBe(true);
    expect((await sim.mica.status('echo1')).state).toBe('Offline');

    await sim.mica.start('echo1');
    const status = await sim.mica.status('echo1');
    expect(status).toMatchObject({ displayName: 'echo1', cpus: '1', state: 'Running' });
    expect(status.console).toMatch(/^\/dev\/pts\/\d+$/);

    const tty = sim.console(status.console!);
    await tty.waitFor(`${BANNER}\r\n`);
    tty.write('hello micrun\r');
    await tty.waitFor('echo: hello micrun\r\n');

    await sim.mica.set('echo1', 'cpu', '0-1');
    expect((await sim.mica.status('echo1')).cpus).toBe('0-1');
    await sim.mica.set('echo1', 'memory', 64);
    await expect(sim.mica.set('echo1', 'vcpu', 'many')).rejects.toThrow(/Invalid value for vcpu/);

    const info = await sim.mica.info('echo1');
    expect(info).toMatchObject({ state: 'Running', console: status.console });
    expect(isAlive(info.qemuPid!)).toBe(true);
    expect(info.memoryBytes).toBeGreaterThan(1024 * 1024);
    expect(info.cpuTimeNs).toBeGreaterThanOrEqual(0);

    await sim.mica.pause('echo1');
    expect((await sim.mica.info('echo1')).state).toBe('Suspended');
    tty.write('while paused\r');
    await new Promise((r) => setTimeout(r, 200));
    expect(tty.text()).not.toContain('echo: while paused');
    await sim.mica.resume('echo1');
    await tty.waitFor('echo: while paused\r\n');
    expect((await sim.mica.status('echo1')).state).toBe('Running');

    await sim.mica.stop('echo1');
    expect((await sim.mica.status('echo1')).state).toBe('Offline');
    await waitFor(() => !isAlive(info.qemuPid!), { what: 'qemu to end after stop' });
    expect(sim.mica.exists('echo1')).toBe(true);

    // Restart on the same console path: the firmware boots again.
    await sim.mica.start('echo1');
    expect((await sim.mica.status('echo1')).console).toBe(status.console);
    await waitFor(() => tty.text().split(BANNER).length === 3, { what: 'second banner' });

    await sim.mica.remove('echo1');
    expect(sim.mica.exists('echo1')).toBe(false);
    await expect(sim.mica.status('echo1')).rejects.toMatchObject({ code: Code.NotFound });
  });
});

describe('firmware that exits', () => {
  it.each([
    ['exit-3', 3],
    ['exit-0', 0],
  ])('%s → Stopped with exit code %i, every line on the console', async (fw, code) => {
    const name = `x-${fw}`;
    await sim.mica.create({ name, firmwarePath: firmwarePath(fw) });
    await sim.mica.start(name);
    const info = await waitFor(async () => {
      const i = await sim.mica.info(name);
      return i.state === 'Stopped' ? i : undefined;
    }, { what: `${name} Stopped` });
    expect(info.exitCode).toBe(code);
    expect(info.qemuPid).toBeUndefined();
    const tty = sim.console(info.console!);
    await tty.waitFor(`exiting with code ${code}\r\n`);
    expect(tty.text()).toBe(
      `micrun exit firmware starting\r\ndoing some work\r\nexiting with code ${code}\r\n`,
    );
    await sim.mica.remove(name);
  });

  it('loses no console byte, and a console nobody reads holds the firmware back', async () => {
    await sim.mica.create({ name: 'flood', firmwarePath: firmwarePath('flood') });
    await sim.mica.start('flood');
    await new Promise((r) => setTimeout(r, 1500));
    // ~230 KiB of output cannot fit in the pty: the firmware must be waiting on TX-full, and the
    // daemon must still answer (a blocking write to a full pty master would freeze it).
    expect((await sim.mica.info('flood')).state).toBe('Running');
    const tty = sim.console((await sim.mica.status('flood')).console!);
    const text = await tty.waitFor('flood done\r\n', 30_000);
    const expected = Array.from({ length: 20000 }, (_, i) => `line ${i + 1}\r\n`).join('') + 'flood done\r\n';
    expect(text.length).toBe(expected.length);
    expect(text === expected).toBe(true);
    await waitFor(async () => (await sim.mica.info('flood')).state === 'Stopped', { what: 'flood Stopped' });
    expect((await sim.mica.info('flood')).exitCode).toBe(0);
    await sim.mica.remove('flood');
  });

  it('QEMU killed from outside → Error', async () => {
    await sim.mica.create({ name: 'victim', firmwarePath: firmwarePath('echo') });
    await sim.mica.start('victim');
    const { qemuPid } = await sim.mica.info('victim');
    process.kill(qemuPid!, 'SIGKILL');
    await waitFor(async () => (await sim.mica.info('victim')).state === 'Error', { what: 'Error state' });
    expect((await sim.mica.status('victim')).state).toBe('Error');
    await sim.mica.remove('victim');
  });
});

describe('errors', () => {
  it('missing firmware → NotFound with micad\'s "No such file" text', async () => {
    await expect(sim.mica.create({ name: 'nofw', firmwarePath: '/nonexistent/fw.elf' })).rejects.toThrow(
      /No such file: \/nonexistent\/fw\.elf/,
    );
    expect(await codeOf(sim.mica.create({ name: 'nofw', firmwarePath: '/nonexistent/fw.elf' }))).toBe(Code.NotFound);
    expect(sim.mica.exists('nofw')).toBe(false);
  });

  it('duplicate name → AlreadyExists', async () => {
    await sim.mica.create({ name: 'dup', firmwarePath: firmwarePath('echo') });
    expect(await codeOf(sim.mica.create({ name: 'dup', firmwarePath: firmwarePath('echo') }))).toBe(Code.AlreadyExists);
    await sim.mica.remove('dup');
  });

  it('firmware it cannot run → create fails saying why', async () => {
    await expect(sim.mica.create({ name: 'notelf', firmwarePath: '/etc/hostname' })).rejects.toThrow(/not an ELF file/);
    await expect(sim.mica.create({ name: 'x86', firmwarePath: process.execPath })).rejects.toThrow(/not ARM|64-bit/);
    expect(sim.mica.exists('notelf')).toBe(false);
  });

  it('concurrent creates of one name: exactly one wins, the others get AlreadyExists', async () => {
    const results = await Promise.allSettled(
      Array.from({ length: 5 }, () => sim.mica.create({ name: 'race', firmwarePath: firmwarePath('echo') })),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results) {
      if (r.status === 'rejected') expect((r.reason as CodedError).code).toBe(Code.AlreadyExists);
    }
    await sim.mica.remove('race');
  });

  it('start of a running instance fails and leaves it running', async () => {
    await sim.mica.create({ name: 'twice', firmwarePath: firmwarePath('echo') });
    await sim.mica.start('twice');
    const { qemuPid } = await sim.mica.info('twice');
    await expect(sim.mica.start('twice')).rejects.toThrow(/already running/);
    expect(await sim.mica.info('twice')).toMatchObject({ state: 'Running', qemuPid });
    await sim.mica.remove('twice');
    expect(isAlive(qemuPid!)).toBe(false);
  });

  it('unknown instance → NotFound', async () => {
    expect(await codeOf(sim.mica.start('ghost'))).toBe(Code.NotFound);
  });

  it('micad-sim not running → Unavailable within the timeout', async () => {
    const down = createMicaClient({ socketDir: path.join(sim.stateDir, 'no-such-dir'), timeoutMs: 1000 });
    expect(await codeOf(down.create({ name: 'a', firmwarePath: firmwarePath('echo') }))).toBe(Code.Unavailable);
    expect(await codeOf(down.status('a'))).toBe(Code.Unavailable);
  });

  it('micad-sim killed mid-request → error within the timeout, no QEMU left', async () => {
    // A QEMU that takes 2 s to come up keeps `start` in flight while micad-sim is killed.
    const slowQemu = path.join(sim.stateDir, 'slow-qemu-system-arm');
    writeFileSync(slowQemu, '#!/bin/sh\nsleep 2\nexec qemu-system-arm "$@"\n', { mode: 0o755 });
    const other = await startMicadSim({ args: ['--qemu', slowQemu] });
    try {
      const client = createMicaClient({ socketDir: other.socketDir, timeoutMs: 3000 });
      await client.create({ name: 'mid', firmwarePath: firmwarePath('echo') });
      const pending = codeOf(client.start('mid'));
      await waitFor(() => processesMentioning(other.stateDir).length > 0, { what: 'QEMU launch' });
      await other.kill();
      expect([Code.Unavailable, Code.DeadlineExceeded]).toContain(await pending);
      await waitFor(() => processesMentioning(other.stateDir).length === 0, {
        what: 'QEMU of the killed micad-sim to die (parent-death signal)',
      });
    } finally {
      await other.stop();
    }
  });
});

/** Sends `parts` on one connection (pausing `gapMs` between them), returns micad's whole reply. */
function rawRequest(socketPath: string, parts: Buffer[], gapMs = 10): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(socketPath);
    let reply = '';
    socket.on('data', (d) => (reply += d.toString('latin1')));
    socket.on('end', () => resolve(reply));
    socket.on('error', reject);
    socket.once('connect', async () => {
      for (const [i, part] of parts.entries()) {
        if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
        socket.write(part);
      }
    });
  });
}

function createMsg(name: string, fw: string): Buffer {
  const msg = Buffer.alloc(1772);
  msg.write(name, 0);
  msg.write(fw, 66);
  return msg;
}

describe('raw protocol', () => {
  it('accepts a create_msg split across writes', async () => {
    const msg = createMsg('split', firmwarePath('echo'));
    const reply = await rawRequest(path.join(sim.socketDir, 'mica-create.socket'), [
      msg.subarray(0, 100),
      msg.subarray(100, 900),
      msg.subarray(900),
    ]);
    expect(reply).toBe('MICA-SUCCESS');
    expect(await rawRequest(path.join(sim.socketDir, 'split.socket'), [Buffer.from('rm')])).toBe('MICA-SUCCESS');
  });

  it('takes a short create_msg as zero-filled, like micad', async () => {
    const short = createMsg('short', firmwarePath('echo')).subarray(0, 66 + 256);
    expect(await rawRequest(path.join(sim.socketDir, 'mica-create.socket'), [short])).toBe('MICA-SUCCESS');
    const status = await rawRequest(path.join(sim.socketDir, 'short.socket'), [Buffer.from('status')]);
    expect(status).toBe(`${'short'.padEnd(30)}${''.padEnd(20)}${'Offline'.padEnd(20)}MICA-SUCCESS`);
    expect(await rawRequest(path.join(sim.socketDir, 'short.socket'), [Buffer.from('rm')])).toBe('MICA-SUCCESS');
  });

  it('refuses names that would escape the socket directory', async () => {
    const reply = await rawRequest(path.join(sim.socketDir, 'mica-create.socket'), [
      createMsg('../evil', firmwarePath('echo')),
    ]);
    expect(reply).toMatch(/^Invalid name: .*MICA-FAILED$/);
    expect(existsSync(path.join(path.dirname(sim.socketDir), 'evil.socket'))).toBe(false);
  });

  it('leaks no file descriptor over create/start/console/rm cycles', async () => {
    const fds = () => readdirSync(`/proc/${sim.pid}/fd`).length;
    const cycle = async (i: number) => {
      await sim.mica.create({ name: `fd${i}`, firmwarePath: firmwarePath('echo') });
      await sim.mica.start(`fd${i}`);
      const tty = openConsole((await sim.mica.status(`fd${i}`)).console!);
      await tty.waitFor(BANNER);
      tty.close();
      await sim.mica.remove(`fd${i}`);
    };
    await cycle(0); // warm-up: lazily opened handles (addon, /proc readers) settle
    const before = fds();
    for (let i = 1; i <= 3; i++) await cycle(i);
    await waitFor(() => fds() <= before, { what: `micad-sim fds back to ${before} (now ${fds()})` });
  });
});

describe('byte compatibility with mica.py', () => {
  it('a client packing struct.pack(\'66s256s16s256s?128siiiiii512s512s\') with one sendall works', () => {
    const script = path.join(sim.stateDir, 'mica-compat.py');
    writeFileSync(
      script,
      `import socket, struct, sys
d, fw = sys.argv[1], sys.argv[2]
def rx(s):
    buf = b''
    while b'MICA-FAILED' not in buf and b'MICA-SUCCESS' not in buf:
        chunk = s.recv(512)
        if not chunk: break
        buf += chunk
    return buf.decode()
def send(path, data):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); s.settimeout(5); s.connect(path)
    s.sendall(data); r = rx(s); s.close(); return r
msg = struct.pack('66s256s16s256s?128siiiiii512s512s', b'pyinst', fw.encode(), b'', b'', False,
                  b'2', -1, -1, -1, -1, -1, -1, b'', b'')
assert len(msg) == 1772, len(msg)
print(repr(send(d + '/mica-create.socket', msg)))
for c in ['status', 'set CPUCapacity 50', 'set MaxMem 64', 'nonsense', 'rm']:
    print(repr(send(d + '/pyinst.socket', c.encode())))
`,
    );
    const out = execFileSync('python3', [script, sim.socketDir, firmwarePath('echo')], { encoding: 'utf8' });
    expect(out.trim().split('\n')).toEqual([
      "'MICA-SUCCESS'",
      `'${'pyinst'.padEnd(30)}${'2'.padEnd(20)}${'Offline'.padEnd(20)}MICA-SUCCESS'`,
      "'MICA-SUCCESS'",
      expect.stringMatching(/^'Unknown resource key: MaxMem .*MICA-FAILED'$/),
      "'Invalid command: nonsenseMICA-FAILED'",
      "'MICA-SUCCESS'",
    ]);
    expect(existsSync(path.join(sim.socketDir, 'pyinst.socket'))).toBe(false);
  });
});

describe('many instances', () => {
  it('20 instances run at once, all banners read, all removed, no QEMU left', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `many-${i}`);
    const latencies: number[] = [];
    const pids: number[] = [];
    const rss: number[] = [];
    await Promise.all(
      names.map(async (name) => {
        const t0 = performance.now();
        await sim.mica.create({ name, firmwarePath: firmwarePath('echo') }, { timeoutMs: 30_000 });
        await sim.mica.start(name, { timeoutMs: 30_000 });
        const { console: tty } = await sim.mica.status(name, { timeoutMs: 30_000 });
        await sim.console(tty!).waitFor(BANNER, 30_000);
        latencies.push(performance.now() - t0);
      }),
    );
    for (const name of names) {
      const info = await sim.mica.info(name);
      expect(info.state).toBe('Running');
      pids.push(info.qemuPid!);
      rss.push(info.memoryBytes!);
    }
    expect(new Set(pids).size).toBe(20);
    expect(pids.every(isAlive)).toBe(true);
    latencies.sort((a, b) => a - b);
    const mib = (b: number) => (b / 1024 / 1024).toFixed(1);
    const report = {
      createToBannerMs: {
        min: Math.round(latencies[0]!),
        median: Math.round(latencies[10]!),
        max: Math.round(latencies[19]!),
      },
      rssPerQemuMiB: { min: mib(Math.min(...rss)), max: mib(Math.max(...rss)) },
    };
    process.stdout.write(`micad-sim 20 instances: ${JSON.stringify(report)}\n`);
    await Promise.all(names.map((name) => sim.mica.remove(name, { timeoutMs: 30_000 })));
    expect(names.some((n) => sim.mica.exists(n))).toBe(false);
    await waitFor(() => pids.every((p) => !isAlive(p)), { what: 'every QEMU to end' });
  });
});

describe('shutdown', () => {
  it.each(['SIGTERM', 'SIGINT'] as const)('%s stops every QEMU child and removes the sockets, exit 0', async (signal) => {
    const other = await startMicadSim();
    const client = createMicaClient({ socketDir: other.socketDir });
    const pids: number[] = [];
    for (const name of ['a', 'b']) {
      await client.create({ name, firmwarePath: firmwarePath('echo') });
      await client.start(name);
      pids.push((await client.info(name)).qemuPid!);
    }
    expect(pids.every(isAlive)).toBe(true);
    const socketDir = other.socketDir;
    process.kill(other.pid, signal);
    await waitFor(() => other.exit(), { what: 'micad-sim to exit' });
    expect(other.exit()).toEqual({ code: 0, signal: null });
    expect(pids.some(isAlive)).toBe(false);
    expect(existsSync(socketDir)).toBe(false);
    await other.stop();
  });
});
