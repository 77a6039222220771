// What micrun does with the OCI hooks of a spec: it runs none of them, on purpose, and says so.
//
// Every hook type is defined against a Linux container (runtime-spec config.md#posix-platform-hooks
// and runc's libcontainer): the state on the hook's stdin carries `pid`, the container's init
// process, and hooks act on that process's namespaces. A micrun task has no such process: its pid
// is the shim daemon's (or the pod's), a process in the HOST's namespaces. So:
//
// - prestart / createRuntime: nerdctl's createRuntime hook (`nerdctl internal oci-hook`) runs CNI
//   ADD in /proc/<pid>/ns/net — on micrun that is the host's network namespace: a bridge hook
//   would move a veth and addresses into the host. Never run.
// - createContainer / startContainer: run inside the container's mount namespace (runc enters
//   it) — an RTOS instance has none. Not runnable.
// - poststart: runs in the runtime namespace with the same state.pid; nerdctl uses none, other
//   users (monitoring agents) read /proc/<pid> and would watch the shim. Not run.
// - poststop: nerdctl's postStop is CNI DEL and IP release for what createRuntime set up, which
//   never happened here. Not run (running it alone could release what another container holds).
//
// A spec with hooks is still accepted (nerdctl puts createRuntime and postStop in every spec); each
// skipped hook is logged at Create. docs/usage.md tells nerdctl users to pick `--net none` or
// `--net host` (an RTOS has no Linux network either way).
import { invalidArgument } from '../errors';

export const HOOK_TYPES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookType = (typeof HOOK_TYPES)[number];

/** Why a hook type is not run; the log line of each skipped hook. */
export const HOOK_POLICY: Record<HookType, string> = {
  prestart: "not run: an RTOS task's pid is a host process, so a network hook would act on the host's network namespace",
  createRuntime: "not run: an RTOS task's pid is a host process, so a network hook (nerdctl's CNI setup) would act on the host's network namespace",
  createContainer: 'not run: it runs in the container mount namespace, which an RTOS instance does not have',
  startContainer: 'not run: it runs in the container before its process, and an RTOS instance has no Linux process',
  poststart: "not run: its state.pid would be the shim's host process, not the firmware",
  poststop: 'not run: it undoes what the create hooks set up (nerdctl: CNI DEL), and those never ran',
};

export interface OciHook {
  type: HookType;
  path: string;
}

/**
 * The hooks of a spec's `hooks` value, in spec order, checked for shape (an unknown hook type
 * or an entry without a path is an error naming it, as runc would refuse the spec).
 */
export function readHooks(raw: unknown, file: string): OciHook[] {
  if (raw === undefined || raw === null) return [];
  const bad = (where: string, what: string) => invalidArgument(`OCI spec ${file}: ${where} ${what}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) throw bad('hooks', 'must be an object');
  const hooks: OciHook[] = [];
  for (const [type, list] of Object.entries(raw)) {
    if (!(HOOK_TYPES as readonly string[]).includes(type)) throw bad(`hooks.${type}`, `is not an OCI hook type (${HOOK_TYPES.join(', ')})`);
    if (list === null) continue;
    if (!Array.isArray(list)) throw bad(`hooks.${type}`, 'must be an array');
    list.forEach((entry: unknown, i) => {
      const p = (entry as { path?: unknown } | null)?.path;
      if (typeof p !== 'string' || !p.startsWith('/')) throw bad(`hooks.${type}[${i}].path`, 'must be an absolute path');
      hooks.push({ type: type as HookType, path: p });
    });
  }
  return hooks;
}

/** Logs each hook micrun does not run, with the reason (the only thing micrun does with hooks). */
export function reportSkippedHooks(hooks: readonly OciHook[], log: (fields: { hook: HookType; path: string }, message: string) => void): void {
  for (const hook of hooks) log({ hook: hook.type, path: hook.path }, `OCI ${hook.type} hook ${HOOK_POLICY[hook.type]}`);
}
