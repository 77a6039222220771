// src/shim — the containerd runtime v2 contract of containerd-shim-mica-v2.
//
// Owns: argv in Go flag syntax (args.ts), the socket address convention (socket-address.ts), the
// one-shots `start` (start.ts: find or spawn the group's daemon, print its address), `delete`
// (delete.ts: clean up from persisted state) and `-info` (info.ts); the daemon (serve.ts adopts
// the socket `start` bound, with node built-ins; daemon.ts wires everything by hand); the Task service
// adapter (task-service.ts); events to containerd (publisher.ts) and stdio (io/).
// Does not know: what a container's lifecycle means for micad (src/runtime), micad's protocol
// (src/mica), OCI bundles (src/oci), the ttrpc wire (src/ttrpc).
//
// Entry point: main.ts (bundled to dist/containerd-shim-mica-v2.js). Each action is loaded with
// import(), so `start` evaluates no daemon, runtime, protobuf or logging code.
export { parseArgs, usage, UsageError, SERVE_ACTION } from './args';
export type { ShimAction, ShimArgs } from './args';
export { socketPath, socketRoot, groupId, toAddress, DEFAULT_SOCKET_ROOT } from './socket-address';
export { createTaskService, exitHandler, TASK_SERVICE, TASK_SERVICE_V3 } from './task-service';
export type { EventSink, OpenTaskIO, TaskEventType, TaskIOHandle, TaskMethod, TaskService, TaskServiceDeps } from './task-service';
