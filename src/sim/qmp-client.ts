// A minimal QMP client (QEMU Machine Protocol: line-delimited JSON over a unix socket). The
// sim uses it for `stop`/`cont` (pause/resume) and `quit`; events are ignored. Every call has a
// timeout so a wedged QEMU cannot stall the daemon.

import { createServer, type Server, type Socket } from 'node:net';
import { deadlineExceeded, internal, unavailable } from '../errors';

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class QmpClient {
  private buffer = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closedError: Error | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', () => {});
    socket.on('close', () => this.failAll(unavailable('QMP connection closed (QEMU exited)')));
  }

  /**
   * Listens on `path` for QEMU's QMP connection: QEMU is the client (`-chardev socket,path=…`
   * plus `-mon …,mode=control`), so it connects the moment its monitor is up and nothing polls
   * for a socket QEMU has not made yet (a 20 ms retry loop cost ~10 ms of every start).
   */
  static async listen(path: string): Promise<QmpListener> {
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
    return new QmpListener(server, path);
  }

  /** Wraps QEMU's connection and leaves capabilities negotiation mode. */
  static async negotiate(socket: Socket, timeoutMs: number): Promise<QmpClient> {
    const client = new QmpClient(socket);
    try {
      await client.execute('qmp_capabilities', undefined, timeoutMs);
    } catch (err) {
      client.close();
      throw err;
    }
    return client;
  }

  /** Runs one QMP command; rejects with the QMP error description on failure. */
  execute(command: string, args?: Record<string, unknown>, timeoutMs = 5_000): Promise<unknown> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = String(this.nextId++);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(deadlineExceeded(`QMP ${command} got no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(`${JSON.stringify({ execute: command, arguments: args, id })}\n`);
    });
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    for (let nl = this.buffer.indexOf('\n'); nl >= 0; nl = this.buffer.indexOf('\n')) {
      const line = this.buffer.slice(0, nl).trim();
      this.buffer = this.buffer.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: { id?: unknown; return?: unknown; error?: { class?: string; desc?: string } };
    try {
      msg = JSON.parse(line) as typeof msg;
    } catch {
      return;
    }
    if (typeof msg.id !== 'string') return; // greeting or event
    const waiter = this.pending.get(msg.id);
    if (!waiter) return;
    this.pending.delete(msg.id);
    clearTimeout(waiter.timer);
    if (msg.error) waiter.reject(internal(`QMP error ${msg.error.class}: ${msg.error.desc}`));
    else waiter.resolve(msg.return);
  }

  private failAll(err: Error): void {
    this.closedError = err;
    for (const [id, waiter] of this.pending) {
      clearTimeout(waiter.timer);
      waiter.reject(err);
      this.pending.delete(id);
    }
  }
}

/** The listening end of one QEMU's QMP connection (see QmpClient.listen). */
export class QmpListener {
  constructor(
    private readonly server: Server,
    private readonly path: string,
  ) {}

  /** QEMU's connection, negotiated; rejects after `timeoutMs` without one. Stops listening. */
  accept(timeoutMs: number): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    const connected = new Promise<Socket>((resolve, reject) => {
      const timer = setTimeout(() => reject(deadlineExceeded(`QEMU did not connect to its QMP socket ${this.path} within ${timeoutMs} ms`)), timeoutMs);
      this.server.once('connection', (socket) => {
        clearTimeout(timer);
        this.close();
        resolve(socket);
      });
    });
    return connected.then((socket) => QmpClient.negotiate(socket, Math.max(deadline - Date.now(), 1)));
  }

  /** Stops listening and removes the socket file (QEMU holds its connection, if any). */
  close(): void {
    if (this.server.listening) this.server.close();
  }
}
