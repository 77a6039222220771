import { execFileSync } from 'node:child_process';
import { chmodSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { loadAddon } from '../../src/mica/addon';
import { createMicaClient } from '../../src/mica/client';
import type { CreateParams, MicaClient } from '../../src/mica/types';
import { FakeMicad } from './fake-micad';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Awaits a promise that must reject with a CodedError, and returns it. */
async function codedError(p: Promise<unknown>): Promise<CodedError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(CodedError);
    return err as CodedError;
  }
  throw new Error('expected a rejection');
}

const params: CreateParams = {
  name: 'vm0',
  firmwarePath: '/lib/firmware/zephyr.elf',
  pedestal: 'xen',
  pedestalConfig: '/lib/firmware/zephyr.bin',
  cpus: '1',
  vcpus: 1,
  memoryMiB: 64,
  maxMemoryMiB: 64,
};

let micad: FakeMicad;
let client: MicaClient;

beforeEach(() => {
  micad = new FakeMicad();
  client = createMicaClient({ socketDir: micad.dir, timeoutMs: 2000 });
});
afterEach(async () => {
  await micad.close();
});

/** micad's answers for instance vm0 as a real micad gives them. */
const micadLike = (req: Buffer): string => {
  const cmd = req.toString();
  if (cmd === 'status') return `${'vm0'.padEnd(30)}${'1'.padEnd(20)}${'Running'.padEnd(20)}rpmsg-tty(/dev/ttyRPMSG0) rpmsg-rpc MICA-SUCCESS`;
  if (['start', 'stop', 'rm', 'set vcpu 2'].includes(cmd)) return 'MICA-SUCCESS';
  if (cmd.startsWith('set ')) return 'MICA-FAILED';
  return `Invalid command: ${cmd}MICA-FAILED`;
};

describe('MicaClient against a fake micad', () => {
  it('sends create/start/status/set/stop/rm byte-exact, each in one write', async () => {
    await micad.listen('mica-create.socket', () => 'MICA-SUCCESS');
    await micad.listen('vm0.socket', micadLike);

    await client.create(params);
    await client.start('vm0');
    const status = await client.status('vm0');
    await client.set('vm0', 'vcpu', 2);
    await client.stop('vm0');
    await client.remove('vm0');

    const [create, ...commands] = micad.requests;
    expect(create!.socket).toBe('mica-create.socket');
    expect(create!.data).toEqual(loadAddon().packCreateMessage(params));
    expect(create!.chunks).toBe(1);
    expect(commands.map((r) => [r.socket, r.data.toString('latin1'), r.chunks])).toEqual([
      ['vm0.socket', 'start', 1],
      ['vm0.socket', 'status', 1],
      ['vm0.socket', 'set vcpu 2', 1],
      ['vm0.socket', 'stop', 1],
      ['vm0.socket', 'rm', 1],
    ]);
    expect(status).toEqual({
      displayName: 'vm0',
      cpus: '1',
      state: 'Running',
      services: ['rpmsg-tty(/dev/ttyRPMSG0)', 'rpmsg-rpc'],
      console: '/dev/ttyRPMSG0',
    });
  });

  it('reads a reply that arrives in pieces', async () => {
    // micad writes text and marker with separate send()s; the client must accumulate.
    const server = createServer((c) => {
      c.once('data', async () => {
        c.write('vm0'.padEnd(30) + ''.padEnd(20) + 'Offl');
        await sleep(50);
        c.write('ine'.padEnd(17) + 'MICA-');
        await sleep(50);
        c.end('SUCCESS');
      });
    });
    await new Promise<void>((r) => server.listen(`${micad.dir}/vm0.socket`, r));
    try {
      expect((await client.status('vm0')).state).toBe('Offline');
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('maps create failures: already created -> AlreadyExists, missing ELF -> NotFound', async () => {
    await micad.listen('mica-create.socket', (req) =>
      req.subarray(0, 3).toString() === 'vm0'
        ? 'vm0 is already createdMICA-FAILED'
        : 'No such file: /lib/firmware/zephyr.elfMICA-FAILED',
    );
    const exists = await codedError(client.create(params));
    expect(exists.code).toBe(Code.AlreadyExists);
    expect(exists.message).toContain('vm0 is already created');
    const missing = await codedError(client.create({ ...params, name: 'vm1' }));
    expect(missing.code).toBe(Code.NotFound);
    expect(missing.message).toContain('No such file: /lib/firmware/zephyr.elf');
  });

  it('maps a bare MICA-FAILED to FailedPrecondition that says so', async () => {
    await micad.listen('vm0.socket', () => 'MICA-FAILED');
    const err = await codedError(client.start('vm0'));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toMatch(/micad start vm0 failed: no reason given/);
  });

  it('carries micad text into a failed set', async () => {
    await micad.listen('vm0.socket', () => 'Invalid set command. Usage: set <key> <value>MICA-FAILED');
    const err = await codedError(client.set('vm0', 'memory', 64));
    expect(err.code).toBe(Code.FailedPrecondition);
    expect(err.message).toContain('Invalid set command');
  });

  it('rejects over-long or multi-word set commands without sending anything', async () => {
    await micad.listen('vm0.socket', micadLike);
    const long = await codedError(client.set('vm0', 'cpu', '0,2,4,6,8,10,12,14,16,18,20'));
    expect(long.code).toBe(Code.InvalidArgument);
    expect(long.message).toMatch(/at most 31/);
    expect((await codedError(client.set('vm0', 'cpu', '1 2'))).code).toBe(Code.InvalidArgument);
    expect((await codedError(client.set('vm0', 'MaxMem' as never, 1))).code).toBe(Code.InvalidArgument);
    expect(micad.requests).toEqual([]);
  });

  it('reports micad down as Unavailable naming the create socket', async () => {
    const err = await codedError(client.create(params));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toContain(`micad is not running (no ${micad.dir}/mica-create.socket)`);
    const cmd = await codedError(client.start('vm0'));
    expect(cmd.code).toBe(Code.Unavailable);
    expect(cmd.message).toBe(`micad start vm0: micad is not running (no ${micad.dir}/mica-create.socket)`);
  });

  it('reports a missing instance as NotFound when micad runs', async () => {
    await micad.listen('mica-create.socket', () => 'MICA-SUCCESS');
    const err = await codedError(client.start('ghost'));
    expect(err.code).toBe(Code.NotFound);
    expect(err.message).toContain(`${micad.dir}/ghost.socket`);
  });

  it('reports a stale socket (nobody listening) as Unavailable', async () => {
    await micad.listen('mica-create.socket', () => 'MICA-SUCCESS');
    // A process that exits while listening leaves its socket file behind, as a crashed micad
    // does; connect() to it fails with ECONNREFUSED.
    const stale = `${micad.dir}/stale.socket`;
    const listenAndExit = `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.exit(0))`;
    execFileSync(process.execPath, ['-e', listenAndExit]);
    expect(client.exists('stale')).toBe(true);
    const err = await codedError(client.status('stale'));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toMatch(/stale\.socket refuses connections/);
  });

  it('says permission denied, naming the socket, when the caller may not reach micad', async () => {
    await micad.listen('vm0.socket', micadLike);
    // micad's socket dir is root's (0700). Root bypasses the check, so as root the call runs in
    // a child process as nobody; otherwise the socket itself is made inaccessible.
    const addonPath = resolve(__dirname, '../../native/build/Release/libmica.node');
    const script =
      `require(${JSON.stringify(addonPath)}).command(${JSON.stringify(micad.dir)}, 'vm0', 'status', 1000)` +
      `.then(() => console.log('{}'), (e) => console.log(JSON.stringify({ code: e.code, message: e.message })))`;
    let out: string;
    if (process.getuid?.() === 0) {
      out = execFileSync(process.execPath, ['-e', script], { uid: 65534, gid: 65534, encoding: 'utf8' });
    } else {
      chmodSync(`${micad.dir}/vm0.socket`, 0);
      out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    }
    const err = JSON.parse(out) as { code?: string; message?: string };
    expect(err.code).toBe('EACCES');
    expect(err.message).toContain(`permission denied connecting to ${micad.dir}/vm0.socket`);
    expect(micad.requests).toEqual([]);
  });

  it('times out a micad that never answers with DeadlineExceeded after the timeout', async () => {
    await micad.listen('vm0.socket', () => 'hang');
    const t0 = Date.now();
    const err = await codedError(client.start('vm0', { timeoutMs: 300 }));
    const elapsed = Date.now() - t0;
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(err.message).toContain('micad did not answer within 300 ms');
    expect(elapsed).toBeGreaterThanOrEqual(290); // it waited the whole timeout: a lower bound the machine's load cannot break
  });

  it('reports a connection closed before the marker as Unavailable with what arrived', async () => {
    await micad.listen('vm0.socket', () => 'close');
    const err = await codedError(client.stop('vm0'));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toMatch(/closed .*vm0\.socket without MICA-SUCCESS\/MICA-FAILED/);
  });

  it('reports EOF after partial text without a marker as a protocol error', async () => {
    await micad.listen('vm0.socket', () => 'vm0 Running');
    const err = await codedError(client.status('vm0'));
    expect(err.code).toBe(Code.Unavailable);
    expect(err.message).toContain('"vm0 Running"');
  });

  it('maps a real micad\'s "Invalid command" for sim extensions to Unimplemented', async () => {
    await micad.listen('vm0.socket', micadLike);
    for (const call of [() => client.pause('vm0'), () => client.resume('vm0'), () => client.info('vm0')]) {
      const err = await codedError(call());
      expect(err.code).toBe(Code.Unimplemented);
      expect(err.message).toMatch(/needs micad-sim; real micad has no (pause|resume|info) command/);
    }
  });

  it('parses micad-sim info JSON', async () => {
    const info = { state: 'Running', qemuPid: 1234, console: '/dev/pts/5', cpuTimeNs: 5e9, memoryBytes: 1 << 24 };
    await micad.listen('vm0.socket', (req) =>
      req.toString() === 'info' ? `${JSON.stringify(info)}MICA-SUCCESS` : 'MICA-SUCCESS',
    );
    expect(await client.info('vm0')).toEqual(info);
    await client.pause('vm0');
    await client.resume('vm0');
    expect(micad.requests.map((r) => r.data.toString())).toEqual(['info', 'pause', 'resume']);
  });

  it('rejects malformed info replies as Internal', async () => {
    await micad.listen('vm0.socket', () => '{"state":"Dancing"}MICA-SUCCESS');
    expect((await codedError(client.info('vm0'))).code).toBe(Code.Internal);
  });

  it('answers exists() from the socket file', async () => {
    expect(client.exists('vm0')).toBe(false);
    await micad.listen('vm0.socket', micadLike);
    expect(client.exists('vm0')).toBe(true);
    await micad.unlisten('vm0.socket');
    expect(client.exists('vm0')).toBe(false);
    expect(client.exists('../vm0')).toBe(false);
  });

  it('serves 20 concurrent calls', async () => {
    await micad.listen('vm0.socket', async (req) => {
      await sleep(10);
      return `${req.toString()}-okMICA-SUCCESS`;
    });
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => client.set('vm0', 'vcpu', i)),
    );
    expect(results).toHaveLength(20);
    expect(micad.requests.map((r) => r.data.toString()).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `set vcpu ${i}`).sort(),
    );
  });

  it('keeps the event loop serving while 4 micad calls wait', async () => {
    // The fake micad runs on this process's event loop and answers each call only after the loop
    // has run 20 timer ticks while that call waited: a native call that blocked the main thread
    // would stall the ticks, the answers with them, and end in DeadlineExceeded.
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    await micad.listen('vm0.socket', async () => {
      const from = ticks;
      while (ticks < from + 20) await sleep(5);
      return 'MICA-SUCCESS';
    });
    try {
      await Promise.all([0, 1, 2, 3].map(() => client.start('vm0', { timeoutMs: 30_000 })));
    } finally {
      clearInterval(timer);
    }
    expect(micad.requests.map((r) => r.data.toString())).toEqual(['start', 'start', 'start', 'start']);
  });

  it('leaves libuv pool threads for fs while micad hangs on 4 calls', async () => {
    await micad.listen('vm0.socket', () => 'hang');
    const calls = [0, 1, 2, 3].map(() => client.start('vm0', { timeoutMs: 3000 }).catch((e) => e));
    await sleep(50); // let the native calls take their pool threads
    // fs needs a pool thread too: it finishes first only if the hanging calls left one free.
    const first = await Promise.race([readFile(__filename).then(() => 'fs'), Promise.all(calls).then(() => 'micad calls')]);
    const errors = await Promise.all(calls);
    expect(errors.map((e) => (e as CodedError).code)).toEqual(Array(4).fill(Code.DeadlineExceeded));
    expect(first).toBe('fs');
  });

  it('leaks no file descriptor across successful, failed and timed-out calls', async () => {
    await micad.listen('mica-create.socket', () => 'MICA-SUCCESS');
    await micad.listen('vm0.socket', (req) => (req.toString() === 'start' ? 'hang' : micadLike(req)));
    await client.status('vm0'); // warm up lazily opened handles
    const before = readdirSync('/proc/self/fd').length;
    for (let i = 0; i < 10; i++) {
      await client.create({ ...params, name: `vm${i}` });
      await client.status('vm0');
      await client.pause('vm0').catch(() => {});
      await client.start('ghost').catch(() => {});
    }
    await client.start('vm0', { timeoutMs: 100 }).catch(() => {});
    await micad.close(); // the fake's own server-side fds go away too
    expect(readdirSync('/proc/self/fd').length).toBeLessThanOrEqual(before);
  });
});
