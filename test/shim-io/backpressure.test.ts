// A console producing far more than anyone reads must not grow the shim's memory: the pump
// pauses the console when the stdout fifo is full, the kernel buffers hold the rest, and a
// reader that comes later receives every byte in order.
import * as fs from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskIO } from '../../src/shim/io';
import { FakeRtos, FifoReader, makeFifo, openStdinWriter, silentLogger, sleep, tempDir, waitFor, writeNonBlocking } from './harness';

const MiB = 1024 * 1024;

describe('console backpressure', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('10 MiB into an unread stdout fifo: bounded memory, then all bytes in order once a reader attaches', async () => {
    const dir = tempDir();
    const rtos = new FakeRtos();
    cleanup.push(() => {
      rtos.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const stdout = makeFifo(dir, 'stdout');
    const io = await TaskIO.open({ stdin: '', stdout, stderr: '', terminal: false }, {
      containerId: 'flood',
      namespace: 'default',
      logger: silentLogger,
    });
    cleanup.push(() => io.close());
    await io.attach(rtos.path);

    const payload = Buffer.alloc(10 * MiB);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >>> 13)) & 0xff;
    // Nobody reads: the producer stalls once fifo + pty + our one in-flight chunk are full.
    const accepted = await rtos.write(payload, 500);
    const held = io.stats.consoleBytes;
    // Bytes, not memory: what the pump took in is bounded by the kernel's buffers, whatever the load.
    expect(accepted).toBeLessThan(1 * MiB);
    expect(held).toBeLessThan(512 * 1024);
    await sleep(200);
    expect(io.stats.consoleBytes).toBe(held); // paused, not reading on into memory

    const reader = new FifoReader(stdout);
    cleanup.push(() => reader.close());
    const rest = await rtos.write(payload.subarray(accepted), 5000);
    expect(accepted + rest).toBe(payload.length);
    await waitFor(() => reader.bytes === payload.length, 'all 10 MiB at the reader', 15_000);
    expect(reader.data().equals(payload)).toBe(true);
  });

  it('stdin into a console the RTOS does not read: the event loop never blocks, nothing is lost', async () => {
    const dir = tempDir();
    const rtos = new FakeRtos();
    cleanup.push(() => {
      rtos.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const stdin = makeFifo(dir, 'stdin');
    const io = await TaskIO.open({ stdin, stdout: '', stderr: '', terminal: true }, {
      containerId: 'typist',
      namespace: 'default',
      logger: silentLogger,
    });
    cleanup.push(() => io.close());
    await io.attach(rtos.path);
    const w = openStdinWriter(stdin);
    cleanup.push(() => fs.closeSync(w));
    rtos.pauseReading();
    const payload = Buffer.alloc(2 * MiB);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 13 + (i >>> 11)) & 0xff;
    // The writer runs on this event loop: a TaskIO that blocked in a write to the unread console
    // would stall it here for good, and the test would time out.
    const accepted = await writeNonBlocking(w, payload, 500);
    expect(accepted).toBeLessThan(1 * MiB);
    expect(io.stats.stdinBytes).toBeLessThan(512 * 1024);
    rtos.resumeReading();
    expect(accepted + (await writeNonBlocking(w, payload.subarray(accepted), 5000))).toBe(payload.length);
    await waitFor(() => rtos.received().length === payload.length, 'all stdin at the console', 15_000);
    expect(rtos.received().equals(payload)).toBe(true);
  });
});
