// TaskIO over real fifos and a real pty: console → stdout fifo, stdin fifo → console, close.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { TaskIO } from '../../src/shim/io';
import { FakeRtos, FifoReader, makeFifo, openStdinWriter, silentLogger, sleep, tempDir, waitFor } from './harness';

const ctx = { containerId: 'c1', namespace: 'default', logger: silentLogger };

describe('TaskIO with fifos and a console pty', () => {
  let dir: string;
  let rtos: FakeRtos;
  let stdin: string;
  let stdout: string;
  let stderr: string;
  const cleanup: (() => unknown)[] = [];

  beforeEach(() => {
    dir = tempDir();
    rtos = new FakeRtos();
    stdin = makeFifo(dir, 'c1-stdin');
    stdout = makeFifo(dir, 'c1-stdout');
    stderr = makeFifo(dir, 'c1-stderr');
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    rtos.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const openIO = async (spec: Partial<{ stdin: string; stdout: string; stderr: string; terminal: boolean }> = {}) => {
    const io = await TaskIO.open({ stdin: '', stdout, stderr, terminal: false, ...spec }, ctx);
    cleanup.push(() => io.close());
    return io;
  };
  const reader = (p: string) => {
    const r = new FifoReader(p);
    cleanup.push(() => r.close());
    return r;
  };

  it('delivers console output written before the client opened the stdout fifo', async () => {
    const io = await openIO();
    await io.attach(rtos.path);
    await rtos.write('boot banner\r\n');
    await waitFor(() => io.stats.consoleBytes === 13, 'console bytes read');
    const out = reader(stdout);
    await rtos.write('uart> ');
    await waitFor(() => out.text() === 'boot banner\r\nuart> ', 'both writes at the reader');
  });

  it('passes console bytes through unchanged: no CRLF rewriting, NUL and 0x03 kept', async () => {
    const io = await openIO();
    const out = reader(stdout);
    await io.attach(rtos.path);
    const raw = Buffer.from([0x41, 0x0a, 0x0d, 0x0a, 0x00, 0x03, 0xff, 0x1b, 0x5b, 0x41]);
    await rtos.write(raw);
    await waitFor(() => out.bytes === raw.length, 'raw bytes');
    expect(out.data()).toEqual(raw);
  });

  it('copies stdin bytes to the console, then on EOF stops stdin only and keeps the console flowing', async () => {
    const io = await openIO({ stdin });
    const out = reader(stdout);
    const w = openStdinWriter(stdin);
    fs.writeSync(w, 'help\n');
    await io.attach(rtos.path);
    await waitFor(() => rtos.received().toString() === 'help\n', 'stdin at the console');
    fs.writeSync(w, 'kernel version\r');
    fs.closeSync(w); // `echo ... | ctr run`: the client's stdin hit EOF
    await waitFor(() => rtos.received().toString() === 'help\nkernel version\r', 'bytes sent before EOF');
    expect(io.stats.stdinBytes).toBe(20);
    // The task keeps running: console output still reaches stdout after stdin's EOF.
    await rtos.write('still here\n');
    await waitFor(() => out.text() === 'still here\n', 'console output after stdin EOF');
  });

  it('waits for a stdin writer that opens late instead of seeing EOF at once', async () => {
    const io = await openIO({ stdin });
    await io.attach(rtos.path);
    await sleep(150);
    const w = openStdinWriter(stdin);
    fs.writeSync(w, 'late\n');
    await waitFor(() => rtos.received().toString() === 'late\n', 'late stdin');
    fs.closeSync(w);
  });

  it('closeStdin (CloseIO) delivers what was written, then stops reading stdin', async () => {
    const io = await openIO({ stdin });
    const w = openStdinWriter(stdin);
    cleanup.push(() => fs.closeSync(w));
    fs.writeSync(w, 'before\n');
    io.closeStdin(); // before attach: honoured once the console exists
    await io.attach(rtos.path);
    await waitFor(() => rtos.received().toString() === 'before\n', 'bytes written before CloseIO');
    await sleep(250); // > stdinQuietMs: stdin is closed now
    // With our read side closed the client's write fails with EPIPE — or, if it races, is never read.
    try {
      fs.writeSync(w, 'after\n');
    } catch (err) {
      expect((err as NodeJS.ErrnoException).code).toBe('EPIPE');
    }
    await sleep(100);
    expect(rtos.received().toString()).toBe('before\n');
  });

  it('terminal mode: 0x03 and raw bytes pass through both ways, stderr is empty', async () => {
    const io = await openIO({ stdin, stderr: '', terminal: true });
    const out = reader(stdout);
    const w = openStdinWriter(stdin);
    cleanup.push(() => fs.closeSync(w));
    await io.attach(rtos.path);
    fs.writeSync(w, Buffer.from([0x03, 0x0d, 0x7f, 0x10, 0x11]));
    await waitFor(() => rtos.received().length === 5, 'typed bytes at the console');
    expect([...rtos.received()]).toEqual([0x03, 0x0d, 0x7f, 0x10, 0x11]);
    await rtos.write(Buffer.from([0x03, 0x0a]));
    await waitFor(() => out.bytes === 2, 'console bytes');
    expect([...out.data()]).toEqual([0x03, 0x0a]);
    await sleep(50);
    expect(rtos.received().length).toBe(5); // no local echo
  });

  it('resize applies TIOCSWINSZ to the console tty (seen by stty on the slave)', async () => {
    const io = await openIO();
    io.resize(100, 40); // before attach: remembered
    await io.attach(rtos.path);
    expect(execFileSync('stty', ['-F', rtos.path, 'size']).toString().trim()).toBe('40 100');
    io.resize(132, 50);
    expect(execFileSync('stty', ['-F', rtos.path, 'size']).toString().trim()).toBe('50 132');
    expect(() => io.resize(-1, 5)).toThrow(/integers/);
  });

  it('close() flushes late console output and ends stdout and stderr readers with EOF', async () => {
    const io = await openIO();
    const out = reader(stdout);
    const err = reader(stderr);
    await io.attach(rtos.path);
    await rtos.write('exit code 0\n');
    await io.close();
    await Promise.all([out.ended, err.ended]);
    expect(out.text()).toBe('exit code 0\n');
    expect(err.bytes).toBe(0);
    await io.close(); // idempotent
    expect(io.stats.attached).toBe(false);
  });

  it('a reader going away neither crashes the shim nor stops the flow; a later attach sees live output', async () => {
    const io = await openIO();
    await io.attach(rtos.path);
    const first = reader(stdout);
    await rtos.write('one\n');
    await waitFor(() => first.text() === 'one\n', 'first reader');
    await first.close(); // `ctr` killed / detached
    await rtos.write('two\n');
    await waitFor(() => io.stats.consoleBytes === 8, 'console read while nobody listens');
    const second = reader(stdout); // `ctr task attach` reopens the same fifo
    await rtos.write('three\n');
    await waitFor(() => second.text() === 'two\nthree\n', 'second reader gets buffered and live output');
  });

  it('an unread stdout fifo holds console output without loss for a late reader (backpressure, not drops)', async () => {
    const io = await openIO();
    await io.attach(rtos.path);
    const payload = Buffer.alloc(200 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = i % 251;
    const writing = rtos.write(payload, 10_000);
    await sleep(300);
    // 200 KiB does not fit the 64 KiB fifo: the console is paused, not drained into memory.
    expect(io.stats.consoleBytes).toBeLessThan(payload.length);
    const out = reader(stdout);
    expect(await writing).toBe(payload.length);
    await waitFor(() => out.bytes === payload.length, 'all bytes at the late reader');
    expect(out.data().equals(payload)).toBe(true);
  });

  it('survives the console going away (pty master closed → EIO) and re-attaches to a new console', async () => {
    const io = await openIO({ stdin });
    const out = reader(stdout);
    const w = openStdinWriter(stdin);
    cleanup.push(() => fs.closeSync(w));
    await io.attach(rtos.path);
    await rtos.write('old\n');
    await waitFor(() => out.text() === 'old\n', 'old console output');
    rtos.close(); // micad restarted the instance: its pty is gone
    await waitFor(() => !io.stats.attached, 'console hang-up noticed');
    fs.writeSync(w, 'typed while no console\n');
    await sleep(100);
    const next = new FakeRtos();
    cleanup.push(() => next.close());
    rtos = new FakeRtos(); // afterEach closes this one
    await io.attach(next.path);
    await next.write('new\n');
    await waitFor(() => out.text() === 'old\nnew\n', 'new console output');
    fs.writeSync(w, 'hello new\n');
    await waitFor(() => next.received().toString() === 'typed while no console\nhello new\n', 'stdin to the new console');
  });

  it('attach to a missing console path fails with a message naming it', async () => {
    const io = await openIO();
    await expect(io.attach(`${dir}/no-such-tty`)).rejects.toThrow(/cannot open RTOS console .*no-such-tty/);
  });
});
