// The daemon's socket, adopted before the heavy modules load. `start` bound and listens on it
// and passes it as fd 3 (containerd dials the address as soon as `start` exits, no retry).
// Loading protobuf, pino and the runtime takes longer than booting Node, so the daemon takes the
// listener over with node:net alone, holds the connections that arrive meanwhile (the stream
// buffers what they send), and hands them to the ttrpc server once it exists. Imports node
// built-ins only.
import { chmodSync, fstatSync, statSync, unlinkSync } from 'node:fs';
import net from 'node:net';

/** The fd on which `start` hands the listening socket to the daemon. */
export const LISTENER_FD = 3;
/**
 * Environment variable in which `start` tells the daemon the inode of the socket file it bound.
 * The daemon cannot stat the path itself: by the time it runs, a racing `start` may have replaced
 * the file, and it would take the newer daemon's socket for its own.
 */
export const LISTENER_INODE_ENV = 'MICRUN_SHIM_LISTENER_INODE';

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

  /**
   * Takes over the listening socket `start` passed as `fd`, bound at `socketPath` as a file with
   * inode `inode` (when not given, the path's current inode). Remembering it means removeSocket
   * never removes a newer daemon's socket.
   */
  adopt(fd: number, socketPath: string, inode?: number): Promise<void> {
    try {
      if (!fstatSync(fd).isSocket()) throw new Error(`fd ${fd} is not a socket`);
    } catch (err) {
      return Promise.reject(new Error(`no listening socket on fd ${fd} (the daemon is started by \`start\`): ${(err as Error).message}`));
    }
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ fd }, () => {
        this.server.off('error', reject);
        this.socketPath = socketPath;
        try {
          this.inode = inode ?? statSync(socketPath).ino;
        } catch {
          // Already unlinked (a racing `start` judged it stale): nothing of ours to remove later.
          this.socketPath = undefined;
        }
        resolve();
      });
    });
  }

  /** Binds and listens on `socketPath` itself (mode 0600): tests and hand-run daemons. */
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
   * Hands the listener over: `takeOver` must install its own 'connection' handler; the connections
   * held so far are then replayed to it (those already closed are dropped).
   */
  async handOver(takeOver: (server: net.Server) => Promise<void>): Promise<void> {
    this.server.off('connection', this.hold);
    await takeOver(this.server);
    const held = this.held;
    this.held = [];
    for (const socket of held) if (!socket.destroyed) this.server.emit('connection', socket);
  }

  /**
   * Whether the socket path still names our socket. It may not: two `start`s that both found a
   * stale socket can both remove it and bind, and the first one's daemon then listens on a path
   * nobody can dial any more.
   */
  ownsSocket(): boolean {
    if (!this.socketPath) return false;
    try {
      return statSync(this.socketPath).ino === this.inode;
    } catch {
      return false;
    }
  }

  /** Connections accepted so far and still open (held or handed over). */
  connectionCount(): Promise<number> {
    return new Promise((resolve) => this.server.getConnections((err, n) => resolve(err ? 0 : n)));
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
