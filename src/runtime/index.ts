// src/runtime — the container domain of the shim daemon.
//
// Owns: the Container and its state machine (container.ts: TRANSITIONS + transition()), the
// daemon's registry of containers (container-registry.ts), persisted per-container state with atomic writes
// (state-store.ts), exit detection by polling micad (exit-monitor.ts), what each Kill signal
// means for an RTOS (signal-policy.ts), the lifecycle operations with the single exit path
// (runtime.ts), and the clean-up of records containerd has forgotten (orphan-sweep.ts).
// Does not know: containerd, ttrpc, protobuf, events or stdio — the shim (src/shim) maps RPCs onto
// Runtime calls and learns about exits through the onExit hook. Depends only on src/mica (the
// MicaClient interface), src/oci, src/config and src/errors.
export { Container, TRANSITIONS } from './container';
export type { ContainerKind, ContainerRecord, ContainerState, ExitInfo, Stdio } from './container';
export { ContainerRegistry } from './container-registry';
export { FileStateStore, containerDir } from './state-store';
export type { StateStore } from './state-store';
export { ExitMonitor, exitStatusOf, EXIT_INSTANCE_FAILED, EXIT_INSTANCE_GONE } from './exit-monitor';
export type { Observation } from './exit-monitor';
export { signalAction, signalName } from './signal-policy';
export type { SignalAction } from './signal-policy';
export { Runtime } from './runtime';
export { instanceName, instanceParams } from './instance-params';
export { sweepOrphans } from './orphan-sweep';
export type { OrphanSweepDeps } from './orphan-sweep';
export type { CreateInput, ExitReport, RootfsMount, RuntimeDeps, RuntimeLogger, StartResult, Usage } from './runtime';
