// src/mica: everything micrun knows about micad. It owns the control protocol (wire facts,
// the libmica native addon, reply and status parsing), the MicaClient the runtime calls, and
// console ptys. It does not know containerd, OCI specs, container state or how resources are
// planned: callers hand it finished CreateParams and names. micad-sim (src/sim) imports only
// wire.ts and pty.ts from here.
//
// Concurrency: every micad call runs on the libuv pool (native napi_async_work) with one
// deadline for queueing + connect + write + read; at most half the pool waits on micad at once
// (call-limiter.ts) so fs.promises keeps working while micad is slow or dead.

export type {
  CallOptions,
  CreateParams,
  InstanceInfo,
  InstanceState,
  InstanceStatus,
  MicaClient,
  ResourceKey,
} from './types';
export { INSTANCE_STATES, RESOURCE_KEYS } from './types';
export { createMicaClient, DEFAULT_TIMEOUT_MS, type MicaClientOptions } from './client';
export { parseStatus, consoleFromServices } from './status';
export { parseInfo } from './info';
export { getWindowSize, openPty, setRawMode, setWindowSize, type Pty } from './pty';
export { loadAddon, findPackageRoot, type LibmicaAddon, type NativeReply } from './addon';
export * as wire from './wire';
