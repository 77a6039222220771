// What the rest of micrun knows about micad: the create parameters, the instance states and
// the client interface. The real client (client.ts, over the native addon) and test fakes
// implement MicaClient; nothing outside src/mica touches sockets or the addon.

/** Parameters of micad's `create` message (struct create_msg). Unset numbers are sent as -1. */
export interface CreateParams {
  /** Instance name: becomes `<socket_dir>/<name>.socket`; at most 65 bytes. */
  name: string;
  /** Absolute host path of the firmware ELF (must exist for micad). */
  firmwarePath: string;
  /** Pedestal: "xen", "jailhouse", "hetero"; anything else (incl. "") means bare metal. */
  pedestal?: string;
  /** Pedestal configuration (Xen: kernel image path). */
  pedestalConfig?: string;
  debug?: boolean;
  /** CPU affinity in cpuset syntax ("1-3", "0,2"). */
  cpus?: string;
  vcpus?: number;
  maxVcpus?: number;
  cpuWeight?: number;
  /** Percent of one physical CPU; 0 = uncapped. */
  cpuCapacity?: number;
  memoryMiB?: number;
  maxMemoryMiB?: number;
  iomem?: string;
  network?: string;
}

export const INSTANCE_STATES = [
  'Offline',
  'Configured',
  'Ready',
  'Running',
  'Suspended',
  'Stopped',
  'Error',
] as const;
export type InstanceState = (typeof INSTANCE_STATES)[number];

/** One parsed `status` reply. */
export interface InstanceStatus {
  /** Display name as micad prints it (shortened for long names: never key on it). */
  displayName: string;
  cpus: string;
  state: InstanceState;
  /** Service tokens, e.g. ["rpmsg-tty(/dev/pts/3)", "rpmsg-rpc"]. */
  services: string[];
  /** Path of the console tty from `rpmsg-tty(<path>)`, if the RTOS announced one. */
  console?: string;
}

/** micad-sim's `info` extension (a real micad has no such command). */
export interface InstanceInfo {
  state: InstanceState;
  qemuPid?: number;
  console?: string;
  /** Set once the firmware ended by itself (semihosting exit). */
  exitCode?: number;
  /** CPU time consumed by the emulated MCU, nanoseconds. */
  cpuTimeNs?: number;
  /** Resident memory of the emulation, bytes. */
  memoryBytes?: number;
}

/** Keys micad's `set` accepts (case-insensitive on the wire; micrun sends them lower-case). */
export const RESOURCE_KEYS = ['cpucapacity', 'cpuweight', 'cpu', 'vcpu', 'memory', 'maxmemory'] as const;
export type ResourceKey = (typeof RESOURCE_KEYS)[number];

export interface MicaClient {
  create(params: CreateParams, opts?: CallOptions): Promise<void>;
  start(name: string, opts?: CallOptions): Promise<void>;
  stop(name: string, opts?: CallOptions): Promise<void>;
  /** `rm`: stops the instance if needed and unregisters it (its socket disappears). */
  remove(name: string, opts?: CallOptions): Promise<void>;
  status(name: string, opts?: CallOptions): Promise<InstanceStatus>;
  set(name: string, key: ResourceKey, value: string | number, opts?: CallOptions): Promise<void>;
  /** Extensions of micad-sim; on a real micad they throw CodedError(Unimplemented). */
  pause(name: string, opts?: CallOptions): Promise<void>;
  resume(name: string, opts?: CallOptions): Promise<void>;
  info(name: string, opts?: CallOptions): Promise<InstanceInfo>;
  /** True when `<socket_dir>/<name>.socket` exists: micad's own "instance exists" test. */
  exists(name: string): boolean;
}

export interface CallOptions {
  /** Default 5000 ms. */
  timeoutMs?: number;
}
