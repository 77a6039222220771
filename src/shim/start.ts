// `start` one-shot: find or spawn the daemon that serves this container's group and print its
// address. containerd merges our stdout and stderr and waits for both to close, so this prints
// exactly one line, and the daemon never inherits fds 1/2 (a readiness pipe on fd 3 instead).
// Imports only node built-ins: it runs on every container start and must stay fast.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SERVE_ACTION, type ShimArgs } from './args';
import { groupId, socketPath, socketRoot, toAddress } from './socket-address';

const READY_TIMEOUT_MS = 10_000;
const DIAL_TIMEOUT_MS = 1_000;

export async function runStart(args: ShimArgs, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const bundle = args.bundle || process.cwd();
  const group = groupId(args.id, readAnnotations(bundle));
  const root = socketRoot(env);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const socket = socketPath(root, args.address, args.namespace, group);

  // Two starts of one pod may race: the loser's daemon fails with EADDRINUSE, and then the
  // winner's socket answers on the second look.
  for (let attempt = 0; ; attempt++) {
    const existing = await probeSocket(socket);
    if (existing === 'stale') removeStale(socket);
    if (existing !== 'live') {
      try {
        await spawnDaemon(args, bundle, socket, env);
      } catch (err) {
        if (attempt === 0 && (err as Error).message.includes('EADDRINUSE')) continue;
        throw err;
      }
    }
    break;
  }
  const address = toAddress(socket);
  writeFileSync(path.join(bundle, 'address'), address, { mode: 0o600 });
  return address;
}

function removeStale(socket: string): void {
  try {
    unlinkSync(socket);
  } catch (err) {
    // Another `start` of the same pod may have removed it first.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

function readAnnotations(bundle: string): Record<string, string> | undefined {
  try {
    const spec = JSON.parse(readFileSync(path.join(bundle, 'config.json'), 'utf8')) as {
      annotations?: Record<string, string>;
    };
    return spec.annotations;
  } catch (err) {
    throw new Error(`cannot read ${path.join(bundle, 'config.json')}: ${(err as Error).message}`);
  }
}

/** 'live' when something accepts connections there, 'stale' for a dead socket file. */
function probeSocket(socket: string): Promise<'live' | 'stale' | 'absent'> {
  return new Promise((resolve) => {
    const conn = net.connect(socket);
    const timer = setTimeout(() => {
      conn.destroy();
      resolve('live'); // it exists and did not refuse: a busy daemon, not a stale file
    }, DIAL_TIMEOUT_MS);
    conn.once('connect', () => {
      clearTimeout(timer);
      conn.destroy();
      resolve('live');
    });
    conn.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'ENOENT' ? 'absent' : 'stale');
    });
  });
}

function spawnDaemon(args: ShimArgs, bundle: string, socket: string, env: NodeJS.ProcessEnv): Promise<void> {
  const script = process.argv[1]!;
  const argv = [
    script,
    '-namespace', args.namespace,
    '-address', args.address,
    '-publish-binary', args.publishBinary,
    '-id', args.id,
    '-bundle', bundle,
    '-socket', socket,
    ...(args.debug ? ['-debug'] : []),
    SERVE_ACTION,
  ];
  const child = spawn(process.execPath, argv, {
    cwd: bundle,
    env,
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'pipe'],
  });
  const pipe = child.stdio[3]!;
  return new Promise<void>((resolve, reject) => {
    let text = '';
    let settled = false;
    const finish = (err?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      pipe.removeAllListeners();
      pipe.destroy();
      child.removeAllListeners();
      child.unref();
      if (err) {
        if (child.exitCode === null && child.pid) {
          try {
            process.kill(child.pid, 'SIGKILL');
          } catch {
            // already gone
          }
        }
        reject(err);
      } else resolve();
    };
    const timer = setTimeout(
      () => finish(new Error(`shim daemon did not become ready within ${READY_TIMEOUT_MS} ms`)),
      READY_TIMEOUT_MS,
    );
    pipe.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const line = text.slice(0, nl);
      if (line === 'ok') finish();
      else finish(new Error(`shim daemon failed: ${line.replace(/^error: /, '')}`));
    });
    pipe.on('error', () => {});
    pipe.on('close', () => finish(new Error(`shim daemon exited before it was ready${text ? `: ${text.trim()}` : ''}`)));
    child.on('error', (err) => finish(new Error(`cannot spawn shim daemon: ${err.message}`)));
  });
}
