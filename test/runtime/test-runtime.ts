// A Runtime wired for unit tests: a real state store in `stateDir`, a fresh container registry,
// quiet logging and short poll/console timeouts; callers choose the MicaClient fake and the
// exit hook. One place for the wiring the runtime, Task service and Sandbox service tests share.
import type { MicaClient } from '../../src/mica/types';
import { Runtime, type RuntimeDeps } from '../../src/runtime/runtime';
import { ContainerRegistry } from '../../src/runtime/container-registry';
import { FileStateStore, type StateStore } from '../../src/runtime/state-store';

export function newTestRuntime(opts: {
  mica: MicaClient;
  stateDir: string;
  pid: number;
  onExit?: RuntimeDeps['onExit'];
  namespace?: string;
  consoleTimeoutMs?: number;
  maxFirmwareBytes?: number;
  store?: StateStore;
}): Runtime {
  return new Runtime({
    mica: opts.mica,
    store: opts.store ?? new FileStateStore(opts.stateDir),
    containers: new ContainerRegistry(),
    namespace: opts.namespace ?? 'default',
    stateDir: opts.stateDir,
    pid: opts.pid,
    resources: { memoryMiB: 32, vcpus: 1, maxVcpus: 8 },
    maxFirmwareBytes: opts.maxFirmwareBytes ?? 64 * 1024 * 1024,
    log: { info() {}, warn() {} },
    onExit: opts.onExit ?? (async () => {}),
    pollIntervalMs: 10,
    consoleTimeoutMs: opts.consoleTimeoutMs ?? 100,
  });
}
