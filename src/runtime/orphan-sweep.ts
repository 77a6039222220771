// Cleans up after containers nobody will delete any more. containerd runs the `delete` one-shot
// when a shim dies, but if that fails too (micad down, a 5 s timeout) the micad instance, the
// staged firmware and the state record stay behind. A record whose bundle directory is gone
// belongs to a task containerd has forgotten (it keeps a bundle for every task it knows), so the
// next daemon removes what the record names.
import { existsSync } from 'node:fs';
import type { MicaClient } from '../mica/types';
import { unmountRootfs } from '../oci/rootfs';
import type { StateStore } from './state-store';

export interface OrphanSweepDeps {
  store: StateStore;
  mica: MicaClient;
  /** True for ids this daemon serves: never touched. */
  isServed: (id: string) => boolean;
  log: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

/** Returns the ids it cleaned up. Never throws: a failure is logged and the record kept. */
export async function sweepOrphans(deps: OrphanSweepDeps): Promise<string[]> {
  const cleaned: string[] = [];
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
      if (!record || existsSync(record.bundle)) continue;
      if (record.instance && deps.mica.exists(record.instance)) await deps.mica.remove(record.instance);
      if (record.rootfsMount) await unmountRootfs(record.rootfsMount);
      await deps.store.remove(id);
      cleaned.push(id);
      deps.log.info({ id, instance: record.instance }, 'orphan sweep: removed a container containerd no longer knows');
    } catch (err) {
      deps.log.warn({ id, err: String(err) }, 'orphan sweep: cleanup failed; record kept');
    }
  }
  return cleaned;
}
