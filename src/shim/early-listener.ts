// The daemon's socket, bound before the heavy modules load. containerd dials the address as
// soon as `start` prints it (no retry), so the socket must listen first; but loading protobuf,
// pino and the runtime takes longer than booting Node. So the daemon listens and reports ready
// with node:net alone, holds the connections that arrive meanwhile (the stream buffers what they
// send), and hands them to the ttrpc server once it exists. Imports node built-ins only.
import { chmodSync, closeSync, statSync, unlinkSync, writeSync } from 'node:fs';
import net from 'node:net';

/** fd on which `start` waits for "ok\n" or "error: <text>\n". */
const READY_FD = 3;

export class EarlyListener {
  readonly server = net.createServer();
  private held: net.Socket[] = [];
  private socketPath?: string;
  private inode?: number;
  private readonly hold = (socket: net.Socket) => {
    this.held.push(socket);
  };

  constructor() {
    this.server.on('connection', this.hold);
  }

  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(socketPath, () => {
        this.server.off('error', reject);
        chmodSync(socketPath, 0o600);
        this.socketPath = socketPath;
        this.inode = statSync(socketPath).ino;
        resolve();
      });
    });
  }

  /**
   * Hands the listener over: `adopt` must install its own 'connection' handler; the connections
   * held so far are then replayed to it (those already closed are dropped).
   */
  async handOver(adopt: (server: net.Server) => Promise<void>): Promise<void> {
    this.server.off('connection', this.hold);
    await adopt(this.server);
    const held = this.held;
    this.held = [];
    for (const socket of held) if (!socket.destroyed) this.server.emit('connection', socket);
  }

  /**
   * Removes the socket file if it is still the one we bound. By the time a stopping daemon gets
   * here, a new `start` for the same group may already have bound a fresh socket at the path.
   */
  removeSocket(): void {
    if (!this.socketPath) return;
    try {
      if (statSync(this.socketPath).ino === this.inode) unlinkSync(this.socketPath);
    } catch {
      // already gone (closing the listener unlinks it)
    }
  }
}

/** Tells the waiting `start` process how the daemon came up; a no-op when nobody waits. */
export function reportReady(line: string): void {
  try {
    writeSync(READY_FD, `${line.replace(/\n/g, ' ')}\n`);
    closeSync(READY_FD);
  } catch {
    // Not started by `start` (e.g. run by hand).
  }
}
