// Test harness for shim/io: real fifos (mkfifo), a real pty from openPty standing in for the
// RTOS console (the test plays the RTOS on the master side, like micad does), a reader for
// the client side of a fifo, and an fd counter for leak checks.

import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tty from 'node:tty';
import pino from 'pino';
import { openPty, type Pty } from '../../src/mica/pty';

export const silentLogger = pino({ level: 'silent' });

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export const openFdCount = () => fs.readdirSync('/proc/self/fd').length;

export function tempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'micrun-io-'));
}

export function makeFifo(dir: string, name: string): string {
  const p = path.join(dir, name);
  execFileSync('mkfifo', ['-m', '0700', p]);
  return p;
}

/** Polls `cond` until true or the deadline; throws with `what` on timeout. */
export async function waitFor(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** The RTOS end of the console: owns the pty (master and slave open, as micad does). */
export class FakeRtos {
  readonly pty: Pty = openPty();
  private readonly reader: tty.ReadStream;
  private chunks: Buffer[] = [];

  constructor() {
    this.reader = new tty.ReadStream(this.pty.master);
    this.reader.on('data', (c: Buffer) => this.chunks.push(c));
    this.reader.on('error', () => undefined);
  }

  get path(): string {
    return this.pty.path;
  }

  /** The RTOS stops reading its console input (the pty fills up towards the shim). */
  pauseReading(): void {
    this.reader.pause();
  }

  resumeReading(): void {
    this.reader.resume();
  }

  /** Everything the shim wrote to the console so far. */
  received(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Writes console output as the RTOS would (non-blocking master: retry on EAGAIN).
   * Returns the number of bytes written before `stallMs` passed without progress. */
  async write(data: Buffer | string, stallMs = 2000): Promise<number> {
    return writeNonBlocking(this.pty.master, typeof data === 'string' ? Buffer.from(data) : data, stallMs);
  }

  close(): void {
    this.reader.destroy();
    fs.closeSync(this.pty.slave);
  }
}

/** The client side of an output fifo (what ctr does): opened non-blocking for reading. */
export class FifoReader {
  private readonly socket: net.Socket;
  private chunks: Buffer[] = [];
  readonly ended: Promise<void>;

  constructor(fifoPath: string) {
    const fd = fs.openSync(fifoPath, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    this.socket = new net.Socket({ fd, readable: true, writable: false });
    this.socket.on('data', (c: Buffer) => this.chunks.push(c));
    this.ended = new Promise((resolve) => this.socket.once('end', () => resolve()));
  }

  get bytes(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  data(): Buffer {
    return Buffer.concat(this.chunks);
  }

  pause(): void {
    this.socket.pause();
  }

  /** Client goes away (ctr killed, attach detached). Resolves once the fd is closed. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.closed) return resolve();
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }
}

/** Writes `data` to a non-blocking fd, waiting on EAGAIN; returns bytes written before
 * `stallMs` passed without progress. */
export async function writeNonBlocking(fd: number, data: Buffer, stallMs: number): Promise<number> {
  let off = 0;
  let lastProgress = Date.now();
  while (off < data.length) {
    try {
      off += fs.writeSync(fd, data, off, Math.min(data.length - off, 65536));
      lastProgress = Date.now();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      if (Date.now() - lastProgress > stallMs) return off;
      await new Promise((r) => setImmediate(r));
    }
  }
  return off;
}

/** The client side of the stdin fifo. Opening blocks until the shim opened its read side, so
 * open it only after TaskIO.open (as containerd's fifo package does in a goroutine). */
export function openStdinWriter(fifoPath: string): number {
  return fs.openSync(fifoPath, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
}
