// `delete` one-shot: containerd runs it after every task removal and when a daemon died. It
// must be idempotent and quick (containerd allows 5 s): from the container's persisted state,
// remove the micad instance if it still exists, unmount the rootfs, drop staged firmware and
// state, and print a DeleteResponse. Uses the state file, not the daemon: the daemon may be gone.
import path from 'node:path';
import { loadConfig } from '../config';
import { createMicaClient } from '../mica/client';
import { unmountRootfs } from '../oci/rootfs';
import { containerd, toTimestamp } from '../proto';
import { FileStateStore } from '../runtime/state-store';
import type { ShimArgs } from './args';
import { rememberedConfigPath } from './config-choice';
import { removeDeadSocket } from './socket-probe';

/** 128 + SIGKILL, what runc reports for a task its cleanup had to kill. */
const KILLED = 137;
const MICAD_TIMEOUT_MS = 1_500;

export async function runDelete(args: ShimArgs, env: NodeJS.ProcessEnv = process.env): Promise<Uint8Array> {
  const bundle = args.bundle || process.cwd();
  // The config `start` used (the runtime handler's ConfigPath), so we look in the same state dir.
  const config = loadConfig({ env, path: rememberedConfigPath(bundle) });
  const store = new FileStateStore(config.runtime.state_dir);
  const record = await store.load(args.id);
  let exitStatus = record?.exitStatus ?? KILLED;
  let exitedAt = record?.exitedAt ? new Date(record.exitedAt) : new Date();

  if (record?.kind === 'app' && record.instance) {
    const mica = createMicaClient({
      socketDir: config.mica.socket_dir,
      timeoutMs: Math.min(config.mica.timeout_ms, MICAD_TIMEOUT_MS),
    });
    if (mica.exists(record.instance)) {
      const wasLive = record.state === 'running' || record.state === 'paused';
      await mica.remove(record.instance); // micad's rm stops a running instance first
      if (wasLive) {
        exitStatus = KILLED;
        exitedAt = new Date();
      }
    }
  }
  if (record?.rootfsMount) await unmountRootfs(record.rootfsMount);
  await unmountRootfs(path.join(bundle, 'rootfs'));
  await store.remove(args.id);
  await removeDeadSocket(bundle);
  return containerd.task.v2.DeleteResponse.encode({ pid: record?.pid ?? 0, exitStatus, exitedAt: toTimestamp(exitedAt) }).finish();
}
