// Telling a live shim socket from a stale file: `start` reuses a live one and replaces a stale
// one; `delete` removes the stale socket a dead daemon left. Node built-ins only (both one-shots
// run for every container).
import { readFileSync, unlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

const DIAL_TIMEOUT_MS = 1_000;

/** 'live' when something accepts connections there, 'stale' for a socket file nobody serves. */
export function probeSocket(socket: string): Promise<'live' | 'stale' | 'absent'> {
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

export function removeStale(socket: string): void {
  try {
    unlinkSync(socket);
  } catch (err) {
    // Another `start` or `delete` of the same group may have removed it first.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * After a daemon died (SIGKILL, OOM), its socket file stays: removes it when the bundle's
 * `address` names a socket nobody serves any more. A live daemon of the group (one a later
 * `start` already spawned) is left alone.
 */
export async function removeDeadSocket(bundle: string): Promise<void> {
  let address: string;
  try {
    address = readFileSync(path.join(bundle, 'address'), 'utf8').trim();
  } catch {
    return; // no address: `start` never got that far
  }
  if (!address.startsWith('unix://')) return;
  const socket = address.slice('unix://'.length);
  if ((await probeSocket(socket)) === 'stale') removeStale(socket);
}
