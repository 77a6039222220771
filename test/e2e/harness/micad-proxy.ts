// A fault-injecting proxy in front of a micad (micad-sim in the tests): the shim is pointed at
// the proxy's socket dir, the proxy forwards every connection to the same socket of the real
// micad and can spoil one reply — hold it (a micad that answers late or never), replace it with
// garbage, or close the connection half-way through it. micad itself always gets the request:
// a fault is what the shim sees, while micad did the work (as when a reply is lost).
//
// micad makes one socket per instance (`<name>.socket`) when it creates one; the proxy mirrors
// that set of sockets: after every reply it passes on (so a `start` right after a `create` finds
// the socket) and every 100 ms (instances that vanish by themselves).
import { mkdtempSync, readdirSync, rmSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type Fault =
  /** Forward the request, keep the reply until release() — or for ever (a micad that hangs). */
  | 'hold'
  /** Forward the request, answer bytes that are no micad reply, then close. */
  | 'garbage'
  /** Forward the request, pass on the first half of micad's reply, then close. */
  | 'close-mid-reply';

export interface FaultRule {
  fault: Fault;
  /** Which request: the socket's file name and the request's bytes (latin1; create messages hold the name). */
  match(socket: string, request: string): boolean;
}

export interface InjectedFault {
  /** Resolves once a request matched (the request has reached micad). */
  readonly hit: Promise<void>;
  /** For 'hold': passes micad's reply on now (to a connection the shim may have given up on). */
  release(): void;
}

export interface MicadProxy {
  socketDir: string;
  /** Spoils the reply to the next request that matches (once). */
  inject(rule: FaultRule): InjectedFault;
  /** Requests seen so far, as `<socket> <first bytes>` (create: the socket name only). */
  readonly requests: string[];
  close(): Promise<void>;
}

const GARBAGE = Buffer.from('\u0000\u00ffnot a micad reply\r\n\u0007', 'latin1');

export async function startMicadProxy(upstreamDir: string): Promise<MicadProxy> {
  // Short path: unix socket paths are limited to 107 bytes.
  const socketDir = mkdtempSync(path.join(tmpdir(), 'mproxy-'));
  const servers = new Map<string, net.Server>();
  const conns = new Set<net.Socket>();
  const pending: { rule: FaultRule; hit: () => void; released: Promise<void> }[] = [];
  const requests: string[] = [];
  let closed = false;

  const sync = async () => {
    if (closed) return;
    let upstream: string[];
    try {
      upstream = readdirSync(upstreamDir).filter((f) => f.endsWith('.socket'));
    } catch {
      upstream = [];
    }
    const wanted = new Set(upstream);
    for (const [name, server] of servers) {
      if (wanted.has(name)) continue;
      servers.delete(name);
      server.close();
      try {
        unlinkSync(path.join(socketDir, name));
      } catch {
        // already gone
      }
    }
    await Promise.all(upstream.filter((name) => !servers.has(name)).map(listen));
  };

  const listen = (name: string) =>
    new Promise<void>((resolve) => {
      const server = net.createServer((client) => serve(name, client));
      servers.set(name, server);
      server.once('error', () => resolve()); // a racing sync listened first
      server.listen(path.join(socketDir, name), () => resolve());
    });

  const serve = (name: string, client: net.Socket) => {
    conns.add(client);
    const upstream = net.connect(path.join(upstreamDir, name));
    conns.add(upstream);
    let rule: (typeof pending)[number] | undefined;
    let decided = false;
    const reply: Buffer[] = [];
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => conns.delete(client));
    upstream.on('close', () => conns.delete(upstream));
    client.on('data', (chunk) => {
      if (!decided) {
        decided = true;
        const text = chunk.toString('latin1');
        requests.push(name === 'mica-create.socket' ? name : `${name} ${text}`);
        const i = pending.findIndex((p) => p.rule.match(name, text));
        if (i >= 0) {
          rule = pending.splice(i, 1)[0];
          rule!.hit();
        }
      }
      upstream.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('data', (chunk) => reply.push(chunk));
    upstream.on('end', async () => {
      const full = Buffer.concat(reply);
      await sync(); // an instance micad just made (or removed) is visible before the shim hears back
      if (!rule) return void client.end(full);
      switch (rule.rule.fault) {
        case 'hold':
          await rule.released;
          client.end(full);
          return;
        case 'garbage':
          client.end(GARBAGE);
          return;
        case 'close-mid-reply':
          client.write(full.subarray(0, Math.max(1, Math.floor(full.length / 2))));
          client.destroy();
          return;
      }
    });
  };

  await listen('mica-create.socket');
  await sync();
  const timer = setInterval(() => void sync(), 100);

  return {
    socketDir,
    requests,
    inject(rule) {
      let hit!: () => void;
      let release!: () => void;
      const hitP = new Promise<void>((r) => (hit = r));
      const released = new Promise<void>((r) => (release = r));
      pending.push({ rule, hit, released });
      return { hit: hitP, release };
    },
    async close() {
      closed = true;
      clearInterval(timer);
      for (const c of conns) c.destroy();
      await Promise.all([...servers.values()].map((s) => new Promise((r) => s.close(r))));
      rmSync(socketDir, { recursive: true, force: true });
    },
  };
}
