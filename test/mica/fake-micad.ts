// An in-test micad: listens on <dir>/mica-create.socket and on instance sockets, records every
// request byte for byte and answers what the test scripts. Unit tests only.
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CREATE_MSG_SIZE } from '../../src/mica/wire';

export interface Recorded {
  socket: string;
  data: Buffer;
  /** How many 'data' events carried the request (1 = it came in one write). */
  chunks: number;
}

/** A reply string, 'hang' (never answer), or 'close' (close without a marker). */
export type Answer = string | 'hang' | 'close';
export type Handler = (req: Buffer, socket: string) => Answer | Promise<Answer>;

export class FakeMicad {
  readonly dir = mkdtempSync(join(tmpdir(), 'fake-micad-'));
  readonly requests: Recorded[] = [];
  private readonly servers = new Map<string, Server>();
  private readonly conns = new Set<Socket>();

  /** Listens on <dir>/<socket>; create sockets wait for the full 1772 bytes like micad's recv. */
  async listen(socket: string, handler: Handler): Promise<void> {
    const isCreate = socket === 'mica-create.socket';
    const server = createServer((conn) => {
      this.conns.add(conn);
      conn.on('close', () => this.conns.delete(conn));
      conn.on('error', () => {});
      const parts: Buffer[] = [];
      let handled = false;
      conn.on('data', async (chunk) => {
        parts.push(chunk);
        const data = Buffer.concat(parts);
        if (handled || (isCreate && data.length < CREATE_MSG_SIZE)) return;
        handled = true;
        this.requests.push({ socket, data, chunks: parts.length });
        const answer = await handler(data, socket);
        if (answer === 'hang') return;
        if (answer === 'close') conn.destroy();
        else conn.end(answer);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(join(this.dir, socket), resolve);
    });
    this.servers.set(socket, server);
  }

  async unlisten(socket: string): Promise<void> {
    const server = this.servers.get(socket);
    this.servers.delete(socket);
    if (server) await new Promise((r) => server.close(r));
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.destroy();
    await Promise.all([...this.servers.keys()].map((s) => this.unlisten(s)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
