// A minimal QMP client (QEMU Machine Protocol: line-delimited JSON over a unix socket). The
// sim uses it for `stop`/`cont` (pause/resume) and `quit`; events are ignored. Every call has a
// timeout so a wedged QEMU cannot stall the daemon.

import { connect, type Socket } from 'node:net';
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
   * Connects to QEMU's QMP server socket, retrying while QEMU has not created it yet, then
   * leaves capabilities negotiation mode.
   */
  static async connect(path: string, timeoutMs: number): Promise<QmpClient> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await openSocket(path);
        const client = new QmpClient(socket);
        await client.execute('qmp_capabilities', undefined, Math.max(deadline - Date.now(), 1));
        return client;
      } catch (err) {
        if (Date.now() >= deadline) {
          throw deadlineExceeded(`QEMU's QMP socket ${path} did not answer within ${timeoutMs} ms`, err);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    }
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

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.removeListener('error', reject);
      resolve(socket);
    });
    socket.once('error', reject);
  });
}
