// Stopping the daemon without ever handing out a closing one. `start` reuses a daemon whose
// socket answers; if the daemon were still reachable while closing, a `start` could hand it to
// containerd and the Create that follows would fail Unavailable. So the first thing a stopping
// daemon does — in the same tick as its decision — is unlink its socket and stop accepting:
// from then on `start` finds no socket and spawns a fresh daemon, whatever the old one is still
// finishing. A Shutdown-driven stop also re-checks, in that same tick, that no container exists
// and no Create is in flight (one may have arrived since containerd's Shutdown was answered).
export interface DaemonStopDeps {
  /** No container and no Create in progress (Runtime.isIdle). */
  isIdle(): boolean;
  /** Removes the socket file if it is still ours (EarlyListener.removeSocket). */
  unlinkSocket(): void;
  /** TtrpcServer.close: its synchronous part stops accepting; the promise ends with the calls in flight. */
  stopServing(): Promise<void>;
  /** Everything else: exit detection, tracing, the event publisher. */
  release(): Promise<void>;
  exit(code: number): void;
  log: { info(obj: object, msg: string): void };
}

export interface DaemonStop {
  /** For Shutdown / ShutdownSandbox: stops only if idle right now; true when it does. */
  ifIdle(why: string): boolean;
  /** For SIGTERM/SIGINT and a daemon nobody can dial: stops regardless. */
  now(why: string): Promise<void>;
}

export function createDaemonStop(deps: DaemonStopDeps): DaemonStop {
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      // Ordering invariant: unreachable first (no await before these two), then drain.
      deps.unlinkSocket();
      const served = deps.stopServing();
      deps.log.info({ why }, 'shim daemon stopping');
      await served.catch(() => {});
      await deps.release().catch(() => {});
      deps.exit(0);
    })();
    return stopping;
  };
  return {
    ifIdle(why) {
      if (stopping || !deps.isIdle()) {
        if (!stopping) deps.log.info({ why }, 'shutdown skipped: a container was created meanwhile');
        return false;
      }
      void stop(why);
      return true;
    },
    now: stop,
  };
}
