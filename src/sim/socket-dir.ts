// Taking over micad's socket directory without destroying anyone else's files. micad clears its
// own fixed /run/mica at start; micad-sim takes any --socket-dir, so a wipe would turn a typo
// into a recursive delete as root, or remove a live micad's sockets on a board. Instead:
//   - the path must be absolute (a relative one depends on the cwd of whoever started us);
//   - a live micad (anything answering on mica-create.socket or an instance socket) → refuse;
//   - a micad socket nobody listens on (left by a crashed micad or micad-sim) is removed, so
//     create can bind again; every other file in the directory is left alone.

import { connect } from 'node:net';
import { lstat, mkdir, readdir, unlink } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { failedPrecondition, invalidArgument } from '../errors';
import { CREATE_SOCKET_NAME } from '../mica/wire';

/** How long a connect to an existing socket may take before it counts as not answering. */
const PROBE_TIMEOUT_MS = 1_000;

export interface SocketDirClaim {
  /** True when the directory did not exist and was made here (so shutdown may remove it). */
  made: boolean;
  /** Stale micad sockets that were removed. */
  removedStale: string[];
}

export async function claimSocketDir(dir: string): Promise<SocketDirClaim> {
  if (!isAbsolute(dir)) throw invalidArgument(`--socket-dir must be an absolute path, got "${dir}"`);
  const made = (await mkdir(dir, { recursive: true, mode: 0o700 })) !== undefined;
  if (made) return { made, removedStale: [] };

  const sockets: string[] = [];
  for (const name of await readdir(dir)) {
    if (!name.endsWith('.socket')) continue;
    const path = join(dir, name);
    if ((await lstat(path)).isSocket()) sockets.push(path);
  }
  // Probe all before removing any: a live micad must find its directory untouched.
  const live = (await Promise.all(sockets.map(async (path) => ((await answers(path)) ? path : undefined)))).filter(
    (path): path is string => path !== undefined,
  );
  if (live.length > 0) {
    const createSocket = join(dir, CREATE_SOCKET_NAME);
    throw failedPrecondition(
      `a live micad already serves ${dir} (${live.includes(createSocket) ? createSocket : live[0]} answers); ` +
        'stop it or give micad-sim another --socket-dir',
    );
  }
  for (const path of sockets) await unlink(path).catch(() => undefined);
  return { made, removedStale: sockets };
}

/** Whether something accepts connections on the unix socket at `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (live: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(live);
    };
    // A listener whose backlog is full may not accept in time: count it as live, never wipe it.
    const timer = setTimeout(() => done(true), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
}
