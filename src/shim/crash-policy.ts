// Crash-only: after an uncaught exception or an unhandled rejection the daemon's memory (the
// container registry, exit paths in flight, half-done IO) can no longer be trusted, so it does not
// keep serving. It logs the error with its stack, unlinks its socket first (so a `start` arriving
// meanwhile spawns a fresh daemon instead of being handed this one), and exits 1.
//
// Nothing is lost by dying: every record is persisted before a reply (state-store.ts), and
// containerd answers a shim's death by running `delete` for each of its tasks, which removes the
// micad instance, unmounts and reports the exit (shim/delete.ts) — the same path as a SIGKILLed
// daemon, which the e2e suite exercises. Keeping on serving instead would risk replying success
// for work that was not done, which design.md forbids.
export interface CrashPolicyDeps {
  log: {
    fatal(obj: object, msg: string): void;
    flush?: (cb?: (err?: Error) => void) => void;
  };
  /** Makes the daemon unreachable before it dies (EarlyListener.removeSocket). */
  removeSocket(): void;
  exit(code: number): void;
}

/** How long the log gets to reach the fifo before the process exits anyway. */
const FLUSH_GRACE_MS = 200;
export const CRASH_EXIT_CODE = 1;

export function installCrashPolicy(proc: Pick<NodeJS.Process, 'on'>, deps: CrashPolicyDeps): void {
  let crashed = false;
  const crash = (kind: string) => (err: unknown) => {
    if (crashed) return; // a second failure while dying changes nothing
    crashed = true;
    attempt(() => deps.log.fatal({ err }, `shim daemon crashed on an ${kind}; exiting so containerd cleans up its tasks`));
    attempt(() => deps.removeSocket());
    let exited = false;
    const exit = () => {
      if (exited) return;
      exited = true;
      deps.exit(CRASH_EXIT_CODE);
    };
    attempt(() => deps.log.flush?.(() => exit()));
    setTimeout(exit, FLUSH_GRACE_MS);
  };
  proc.on('uncaughtException', crash('uncaught exception'));
  proc.on('unhandledRejection', crash('unhandled rejection'));
}

/** Runs a step of dying; its own failure must not stop the next step or the exit. */
function attempt(step: () => void): void {
  try {
    step();
  } catch {
    // nothing sensible left to do with an error about an error
  }
}
