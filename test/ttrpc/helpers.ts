// Shared by the ttrpc tests: a server on a unix socket in a fresh temp dir, torn down after.
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { TtrpcServer, type TtrpcServerOptions } from '../../src/ttrpc';

export interface Served {
  server: TtrpcServer;
  socketPath: string;
  errors: unknown[];
  cleanup(): Promise<void>;
}

export async function serve(setup: (server: TtrpcServer) => void, opts: TtrpcServerOptions = {}): Promise<Served> {
  const dir = mkdtempSync(path.join(tmpdir(), 'micrun-ttrpc-'));
  const socketPath = path.join(dir, 'ttrpc.sock');
  const errors: unknown[] = [];
  const server = new TtrpcServer({ ...opts, onError: opts.onError ?? ((err) => errors.push(err)) });
  setup(server);
  await server.listen(socketPath);
  return {
    server,
    socketPath,
    errors,
    async cleanup() {
      await server.close(100);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Raw socket that collects every byte the server sends. */
export async function rawConnect(socketPath: string): Promise<{ socket: net.Socket; received: () => Buffer; closed: Promise<void> }> {
  const socket = net.createConnection(socketPath);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  return { socket, received: () => Buffer.concat(chunks), closed };
}

export const text = (s: string) => new Uint8Array(Buffer.from(s));
export const str = (b: Uint8Array) => Buffer.from(b).toString();
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
