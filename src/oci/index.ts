// src/oci: everything micrun reads from an OCI bundle — the runtime spec subset (spec.ts), our
// annotations, CRI classification and image-Env hints (annotations.ts), the firmware lookup and
// staging (firmware.ts), rootfs mounts (rootfs.ts) and linux.resources → micad resources
// (resources.ts, cpuset.ts).
//
// It does not know about containerd's RPCs, the state store, or how micad is reached: planning
// functions return CreateParams fields and `set` calls; the runtime decides when to send them.
// Pure code except spec loading, firmware lookup/staging and mounts, which touch the filesystem.
export { loadSpec, parseSpec, parseLinuxResources } from './spec';
export type { OciSpec, OciProcess, OciMount, LinuxResources, LinuxCpu, LinuxMemory } from './spec';
export {
  ANNOTATION_PREFIX,
  CRI_CONTAINER_TYPE,
  CRI_SANDBOX_ID,
  parseAnnotations,
  classifyContainer,
  inheritAnnotations,
  readEnvHints,
} from './annotations';
export type { MicrunAnnotations, ContainerKind, Classification, EnvHints } from './annotations';
export { PEDESTALS, isPedestal, pedestalOnWire } from './pedestals';
export type { Pedestal } from './pedestals';
export {
  findFirmware,
  resolveInRoot,
  stageFirmware,
  findPedestalConfig,
  stagePedestalConfig,
} from './firmware';
export type { FoundFirmware, FirmwareQuery, FirmwareSource } from './firmware';
export { mountRootfs, unmountRootfs, isMountPoint, mountArgs } from './rootfs';
export type { RootfsMount } from './rootfs';
export { planCreateResources, planUpdate, applySetCall, MAX_MEMORY_MIB } from './resources';
export type { ResourceDefaults, ResourceHints, GuestResources, SetCall } from './resources';
export { parseCpuset, formatCpuset } from './cpuset';
