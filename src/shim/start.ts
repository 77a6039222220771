// `start` one-shot: find or spawn the daemon that serves this container's group and print its
// address. containerd dials that address once, right after we exit, with no retry; so, as the Go
// shims do, `start` itself binds and listens on the socket and hands the listening fd to the
// daemon as fd 3. Connections made before the daemon is ready wait in the kernel's backlog, and
// `start` exits without waiting for the daemon: one Node boot on containerd's critical path, not
// two. containerd merges our stdout and stderr and waits for both to close, so this prints
// exactly one line and the daemon inherits neither (its stdio is /dev/null).
//
// Since nobody hears the daemon once we are gone, what can fail cheaply is checked here before
// spawning (the bundle's config.json, the runtime config file); a daemon that still fails logs
// its reason to the bundle's log fifo and exits, and containerd's first call then fails.
// Imports node built-ins and the config loader only: it runs on every container start.
import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadConfig } from '../config';
import { SERVE_ACTION, type ShimArgs } from './args';
import { bootstrapOutput } from './bootstrap';
import { rememberConfigPath } from './config-choice';
import { LISTENER_FD, LISTENER_INODE_ENV } from './early-listener';
import { groupId, SHIM_BINARY, socketPath, socketRoot, toAddress } from './socket-address';
import type { StartOptions } from './start-options';
import { probeSocket, removeStale } from './socket-probe';

/** Binding loses to a racing `start` of the same group at most this often before we give up. */
const MAX_BIND_ATTEMPTS = 3;

/**
 * Resolves with what to print: the daemon's address in the configured bootstrap form.
 * `options` are the runtime options containerd wrote on stdin (start-options.ts).
 */
export async function runStart(args: ShimArgs, env: NodeJS.ProcessEnv = process.env, options?: StartOptions): Promise<string> {
  const bundle = args.bundle || process.cwd();
  const annotations = readAnnotations(bundle);
  // The handler's ConfigPath, if any, chooses the config for this start, the daemon and `delete`.
  const configPath = options?.configPath || undefined;
  // A bad config file fails here with the key it names, not later in a daemon nobody hears.
  const config = loadConfig({ env, path: configPath });
  if (configPath) env = { ...env, MICRUN_CONFIG: configPath };
  const binary = path.basename(process.argv[1] ?? SHIM_BINARY, '.js');
  const group = groupId(args.id, annotations, { grouping: config.shim.grouping, configPath, binary });
  const root = socketRoot(env);
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const socket = socketPath(root, args.address, args.namespace, group);
  const address = toAddress(socket);
  // Written first: it also proves the bundle is writable before anything is bound or spawned.
  writeAddress(bundle, address);
  rememberConfigPath(bundle, configPath ?? '');

  // Two starts of one pod may race: the loser's bind fails with EADDRINUSE, and then the
  // winner's socket answers on the next look (it listens before its daemon is even spawned).
  for (let attempt = 1; ; attempt++) {
    const existing = await probeSocket(socket);
    if (existing === 'live') break;
    if (existing === 'stale') removeStale(socket);
    let listener: net.Server;
    try {
      listener = await bindSocket(socket);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE' && attempt < MAX_BIND_ATTEMPTS) continue;
      throw new Error(`cannot listen on ${socket}: ${(err as Error).message}`);
    }
    try {
      spawnDaemon(args, bundle, socket, listenerFd(listener), { ...env, [LISTENER_INODE_ENV]: String(statSync(socket).ino) });
    } catch (err) {
      listener.close(); // unlinks the socket file: nobody will serve it
      throw err;
    }
    // The listener is deliberately never closed: closing a bound unix server unlinks its path
    // (libuv), and the daemon now serves it. main.ts ends this process with process.exit.
    break;
  }
  return bootstrapOutput(address, config.shim.bootstrap);
}

function writeAddress(bundle: string, address: string): void {
  // containerd 1.6/1.7 read `<bundle>/address` after a restart to find the daemon again.
  writeFileSync(path.join(bundle, 'address'), address, { mode: 0o600 });
}

/**
 * The bundle's annotations, which choose the daemon group. containerd 2.x's shim sandboxer runs
 * `start` for a sandbox bundle that has no config.json: no file means no annotations (the group
 * is the container id); a file we cannot read or parse is still an error.
 */
export function readAnnotations(bundle: string): Record<string, string> | undefined {
  const file = path.join(bundle, 'config.json');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  let spec: unknown;
  try {
    spec = JSON.parse(text);
  } catch (err) {
    throw new Error(`cannot read ${file}: ${(err as Error).message}`);
  }
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new Error(`cannot read ${file}: not a JSON object`);
  }
  const annotations = (spec as { annotations?: unknown }).annotations;
  if (annotations === undefined || annotations === null) return undefined;
  if (typeof annotations !== 'object' || Array.isArray(annotations)) {
    throw new Error(`cannot read ${file}: "annotations" is not an object`);
  }
  return annotations as Record<string, string>;
}

/** Listens on the socket path with mode 0600 (as containerd's pkg/shim NewSocket does). */
function bindSocket(socket: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(socket, () => {
      server.off('error', reject);
      try {
        chmodSync(socket, 0o600);
      } catch (err) {
        server.close();
        reject(err);
        return;
      }
      resolve(server);
    });
  });
}

/**
 * The listening socket's fd. `_handle.fd` is not documented, but has been the libuv fd of a
 * listening net.Server's Pipe handle on Unix throughout Node's history; checked so a change shows
 * as a clear error, not a daemon without a socket.
 */
function listenerFd(server: net.Server): number {
  const fd = (server as unknown as { _handle?: { fd?: unknown } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) throw new Error('cannot get the listening socket fd from node:net');
  return fd;
}

/**
 * Re-executes this binary as the daemon in its own session (setsid), stdio on /dev/null, the
 * listener as fd 3, and does not wait for it.
 */
function spawnDaemon(args: ShimArgs, bundle: string, socket: string, fd: number, env: NodeJS.ProcessEnv): void {
  const argv = [
    // A small young generation: the daemon is mostly idle, and V8 otherwise grows new space to
    // 32 MiB of RSS it keeps (npm run bench: +40 MiB over 1000 create/delete cycles, live heap flat).
    '--max-semi-space-size=1',
    process.argv[1]!,
    '-namespace', args.namespace,
    '-address', args.address,
    '-publish-binary', args.publishBinary,
    '-id', args.id,
    '-bundle', bundle,
    '-socket', socket,
    ...(args.debug ? ['-debug'] : []),
    SERVE_ACTION,
  ];
  const stdio: ('ignore' | number)[] = ['ignore', 'ignore', 'ignore'];
  stdio[LISTENER_FD] = fd;
  // Two malloc arenas: glibc otherwise gives each libuv pool thread (fs, addon calls) its own,
  // and their fragments added ~2.5 MiB of RSS over 200 create/delete cycles (npm run bench).
  const daemonEnv = { MALLOC_ARENA_MAX: '2', ...env };
  const child = spawn(process.execPath, argv, { cwd: bundle, env: daemonEnv, detached: true, stdio });
  // spawn reports a failed exec (ENOENT, EACCES) only asynchronously; by then we have printed
  // the address, and containerd's dial fails, which is the error it then reports.
  child.on('error', () => {});
  if (child.pid === undefined) throw new Error(`cannot spawn the shim daemon ${process.execPath}`);
  child.unref();
}
