// The console of one instance, as micad's rpmsg-tty service presents it: a pty whose slave
// path clients open, bridged to the emulated UART. micad-sim keeps the master AND the slave
// open (so writes never fail with EIO and early output waits in the pty until a client opens
// the slave) and is the server of the unix socket QEMU's serial chardev connects to at start-up,
// before the guest runs: no byte of early output can be lost (unlike QEMU's `-serial pty`).
//
// Data path: QEMU → socket → "\n"→"\r\n" (as micad does) → pty master → slave → client.
//            client → slave → pty master → socket → QEMU UART RX.
// Flow control: when the pty is full (no client reading), the QEMU socket is paused, so QEMU's
// UART reports TX-full and the firmware waits instead of bytes piling up in this process; input
// the UART does not take yet pauses the pty master the same way.
//
// Never write the master through a tty.WriteStream/ReadStream: libuv cannot reopen a pty master
// in non-blocking mode and falls back to *blocking writes* for it, so a full pty would freeze the
// whole event loop. MasterWriter writes with fs.write (thread pool) on the O_NONBLOCK fd and
// retries on EAGAIN with a timer. Reading through tty.ReadStream is fine (epoll + O_NONBLOCK).

import { closeSync, write as fsWrite } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import { internal } from '../errors';
import { openPty } from '../mica/pty';

export class ConsoleBridge {
  private qemu: Socket | undefined;
  private server: Server | undefined;
  private closed = false;
  private readonly writer: MasterWriter;
  /** Called after console input was handed to QEMU (see main-loop-waker.ts for why). */
  onInputForwarded: (() => void) | undefined;

  private constructor(
    /** Path of the pty slave (what `rpmsg-tty(<path>)` shows). */
    readonly path: string,
    masterFd: number,
    private readonly master: ReadStream,
    private readonly slave: number,
  ) {
    this.writer = new MasterWriter(masterFd, () => this.qemu?.resume());
    master.on('data', (chunk: Buffer) => {
      // Input typed while no QEMU is attached is dropped, as a real UART would drop it.
      // Resumed by the 'drain'/'close' listeners attach() registers once per connection (not
      // once per backpressure episode: those piled up on a long-lived connection).
      if (!this.qemu) return;
      if (!this.qemu.write(chunk)) master.pause();
      this.onInputForwarded?.();
    });
    master.on('error', () => {});
  }

  static open(): ConsoleBridge {
    const pty = openPty();
    return new ConsoleBridge(pty.path, pty.master, new ReadStream(pty.master), pty.slave);
  }

  /**
   * Listens on `socketPath` for QEMU's serial chardev. Resolves once listening; `attached`
   * settles when QEMU has connected and, later, `detached` when that connection closed (all of
   * QEMU's output has then reached the pty).
   */
  async listen(socketPath: string): Promise<{ detached: Promise<void> }> {
    if (this.closed) throw internal('console bridge is closed');
    this.server?.close();
    let onDetached!: () => void;
    const detached = new Promise<void>((resolve) => (onDetached = resolve));
    const server = createServer({ pauseOnConnect: false }, (socket) => {
      server.close(); // exactly one QEMU per start
      this.attach(socket, onDetached);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    return { detached };
  }

  private attach(socket: Socket, onDetached: () => void): void {
    this.qemu = socket;
    socket.on('data', (chunk: Buffer) => {
      if (this.closed) return;
      if (!this.writer.write(toCrLf(chunk))) socket.pause(); // resumed by the writer's drain
    });
    socket.on('drain', () => this.master.resume());
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.qemu === socket) this.qemu = undefined;
      this.master.resume(); // input typed meanwhile is read (and dropped) instead of piling up
      onDetached();
    });
  }

  /** Stops listening for QEMU (the console itself stays). */
  stopListening(): void {
    this.server?.close();
    this.server = undefined;
  }

  /** Closes the pty: clients reading the slave see EOF/EIO. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopListening();
    this.qemu?.destroy();
    // The master fd is closed (by its ReadStream) only once no fs.write is in flight on it:
    // closing earlier could let that write land on a reused fd number.
    this.writer.close(() => this.master.destroy());
    try {
      closeSync(this.slave);
    } catch {
      // already closed
    }
  }
}

/** Above this many queued bytes the producer (QEMU's socket) is asked to pause. */
const WRITER_HIGH_WATER = 16 * 1024;
/** Retry delay while the pty is full (no readiness event exists for a master's writability). */
const FULL_RETRY_MS = 10;

/** Ordered, non-blocking writes to the pty master (see the file comment for why). */
class MasterWriter {
  private readonly queue: Buffer[] = [];
  private queued = 0;
  private busy = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private onIdle: (() => void) | undefined;

  constructor(
    private readonly fd: number,
    private readonly onDrain: () => void,
  ) {}

  /** Queues `chunk`; false when the caller should pause until onDrain. */
  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.pump();
    return this.queued < WRITER_HIGH_WATER;
  }

  /** Drops what is queued; `then` runs once no write is in flight. */
  close(then: () => void): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.queue.length = 0;
    this.queued = 0;
    if (this.busy) this.onIdle = then;
    else then();
  }

  private pump(): void {
    const chunk = this.queue[0];
    if (this.busy || this.closed || this.timer || !chunk) return;
    this.busy = true;
    fsWrite(this.fd, chunk, 0, chunk.length, null, (err, written) => {
      this.busy = false;
      if (this.closed) {
        this.onIdle?.();
        this.onIdle = undefined;
        return;
      }
      if (err) {
        if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.pump();
          }, FULL_RETRY_MS);
          return;
        }
        // EIO and the like: the pty is unusable; drop output rather than spin.
        this.queue.length = 0;
        this.queued = 0;
      } else if (written < chunk.length) {
        this.queue[0] = chunk.subarray(written);
        this.queued -= written;
      } else {
        this.queue.shift();
        this.queued -= written;
      }
      if (this.queued < WRITER_HIGH_WATER) this.onDrain();
      this.pump();
    });
  }
}

/** micad's rpmsg-tty RX translation: every "\n" becomes "\r\n". */
export function toCrLf(chunk: Buffer): Buffer {
  if (!chunk.includes(0x0a)) return chunk;
  const out: number[] = [];
  for (const byte of chunk) {
    if (byte === 0x0a) out.push(0x0d);
    out.push(byte);
  }
  return Buffer.from(out);
}
