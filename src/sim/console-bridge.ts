// The console of one instance, as micad's rpmsg-tty service presents it: a pty whose slave
// path clients open, bridged to the emulated UART. micad-sim keeps the master AND the slave
// open (so writes never fail with EIO and early output waits in the pty until a client opens
// the slave) and is the server of the unix socket QEMU's serial chardev connects to at start-up,
// before the guest runs: no byte of early output can be lost (unlike QEMU's `-serial pty`).
//
// Data path: QEMU → socket → "\n"→"\r\n" (as micad does) → pty master → slave → client.
//            client → slave → pty master → socket → QEMU UART RX.
// Flow control: when the pty is full (no client reading), the QEMU socket is paused, so QEMU's
// UART reports TX-full and the firmware waits instead of bytes piling up in this process.

import { closeSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { ReadStream } from 'node:tty';
import { internal } from '../errors';
import { openPty } from '../mica/pty';

export class ConsoleBridge {
  private qemu: Socket | undefined;
  private server: Server | undefined;
  private closed = false;

  private constructor(
    /** Path of the pty slave (what `rpmsg-tty(<path>)` shows). */
    readonly path: string,
    private readonly master: ReadStream,
    private readonly slave: number,
  ) {
    master.on('data', (chunk: Buffer) => {
      // Input typed while no QEMU is attached is dropped, as a real UART would drop it.
      this.qemu?.write(chunk);
    });
    master.on('error', () => {});
  }

  static open(): ConsoleBridge {
    const pty = openPty();
    return new ConsoleBridge(pty.path, new ReadStream(pty.master), pty.slave);
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
      const text = toCrLf(chunk);
      if (!this.master.write(text)) {
        socket.pause();
        this.master.once('drain', () => socket.resume());
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      if (this.qemu === socket) this.qemu = undefined;
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
    this.master.destroy();
    try {
      closeSync(this.slave);
    } catch {
      // already closed
    }
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
