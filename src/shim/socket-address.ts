// Where a shim daemon listens. Follows containerd's pkg/shim convention so that one daemon
// serves a whole pod: sha256(join(address, namespace, groupId)) under the socket root. The
// hash only has to be stable for us (containerd never recomputes it), but keeping the
// convention means the worked example in shimv2-protocol.md §2.3 pins it.
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { DaemonGrouping } from '../config';
import { CRI_CONTAINER_TYPE, CRI_SANDBOX_ID } from '../oci/cri-annotations';

export const DEFAULT_SOCKET_ROOT = '/run/containerd/s';

/** `MICRUN_SHIM_SOCKET_DIR` (tests, non-default layouts) else containerd's socket root. */
export function socketRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.MICRUN_SHIM_SOCKET_DIR || DEFAULT_SOCKET_ROOT;
}

export function socketPath(root: string, address: string, namespace: string, groupId: string): string {
  // Go's filepath.Join cleans the result (collapses "//", drops a trailing "/").
  const joined = path.posix.join(address, namespace, groupId);
  return path.join(root, createHash('sha256').update(joined).digest('hex'));
}

/**
 * The group of grouping `namespace`: every container of the namespace. containerd ids match
 * `[A-Za-z0-9]+([._-][A-Za-z0-9]+)*`, so no container or pod id can be this string.
 */
export const NAMESPACE_GROUP = '@namespace';

/** The shim binary's own name: its namespace daemons need no suffix (the launcher's case). */
export const SHIM_BINARY = 'containerd-shim-mica-v2';

/** What besides the grouping decides which daemon a container joins. */
export interface GroupContext {
  grouping: DaemonGrouping;
  /** A runtime handler's config file (runtime options ConfigPath): a daemon runs with one config. */
  configPath?: string;
  /** The binary containerd ran, without `.js` (a runtime type of its own, e.g. a wrapper). */
  binary?: string;
}

/**
 * The daemon group of a container. Grouping `pod`: CRI pod containers (and the pod's sandbox
 * container, whose sandbox-id is its own id) share their pod's daemon; anything else gets its own.
 * Grouping `namespace`: one daemon per namespace (the namespace is already part of the path), per
 * runtime binary and per config file a runtime handler names — two runtimes of one namespace
 * never share a daemon.
 */
export function groupId(id: string, annotations: Readonly<Record<string, string>> | undefined, ctx: GroupContext): string {
  if (ctx.grouping === 'namespace') {
    let group = NAMESPACE_GROUP;
    if (ctx.binary && ctx.binary !== SHIM_BINARY) group += `:${ctx.binary}`;
    if (ctx.configPath) group += `:${ctx.configPath}`;
    return group;
  }
  const type = annotations?.[CRI_CONTAINER_TYPE];
  const sandbox = annotations?.[CRI_SANDBOX_ID];
  if ((type === 'container' || type === 'sandbox') && sandbox) return sandbox;
  return id;
}

export const toAddress = (socket: string) => `unix://${socket}`;
