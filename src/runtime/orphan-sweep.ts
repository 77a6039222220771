// Cleans up after containers nobody will delete any more. containerd runs the `delete` one-shot
// when a shim dies, but if that fails too (micad down, or the one-shot killed at containerd's 5 s
// cleanup timeout on a loaded node) the micad instance, the rootfs mount, the staged firmware and
// the state record stay behind. A record is an orphan when
//  - its bundle directory is gone: containerd has forgotten the task (it keeps a bundle for every
//    task it knows); or
//  - the daemon that served it (the record's pid) is dead: no daemon adopts another's containers,
//    so nothing can ever serve it again. containerd may still hold its bundle — our own rootfs
//    mount inside it makes containerd's bundle removal fail — so the bundle alone cannot tell.
// A live daemon of another group, or this one, keeps its records.
import { existsSync, readFileSync } from 'node:fs';
import type { MicaClient } from '../mica/types';
import { unmountRootfs } from '../oci/rootfs';
import type { StateStore } from './state-store';

export interface OrphanSweepDeps {
  store: StateStore;
  mica: MicaClient;
  /** True for ids this daemon serves: never touched. */
  isServed: (id: string) => boolean;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
  /** Whether the daemon with this pid still runs (default: a live micrun shim process). */
  daemonAlive?: (pid: number) => boolean;
}

/** Returns the ids it cleaned up. Never throws: a failure is logged and the record kept. */
export async function sweepOrphans(deps: OrphanSweepDeps): Promise<string[]> {
  const cleaned: string[] = [];
  const daemonAlive = deps.daemonAlive ?? isShimDaemon;
  let ids: string[];
  try {
    ids = await deps.store.list();
  } catch (err) {
    deps.log.warn({ err: String(err) }, 'orphan sweep: cannot list state');
    return cleaned;
  }
  for (const id of ids) {
    if (deps.isServed(id)) continue;
    try {
      const record = await deps.store.load(id);
      if (!record || (existsSync(record.bundle) && daemonAlive(record.pid))) continue;
      if (record.instance && deps.mica.exists(record.instance)) await deps.mica.remove(record.instance);
      if (record.rootfsMount) await unmountRootfs(record.rootfsMount);
      await deps.store.remove(id);
      cleaned.push(id);
      deps.log.info({ id, instance: record.instance, daemon: record.pid }, 'orphan sweep: removed a container no daemon serves');
    } catch (err) {
      deps.log.warn({ id, err: String(err) }, 'orphan sweep: cleanup failed; record kept');
    }
  }
  return cleaned;
}

/**
 * True while `pid` is a micrun shim process. A pid we cannot judge (0, a record from before pids
 * were kept) counts as alive: only a bundle that is gone can then make its record an orphan.
 * The command-line check guards against a dead daemon's pid reused by another process.
 */
export function isShimDaemon(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false; // no such process
  }
  // A zombie (killed, not yet reaped) has an empty command line: it serves nothing.
  return cmdline.includes('containerd-shim-mica-v2');
}
