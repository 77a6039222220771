// The Features document of `-info`, in the shape of `runc features` (opencontainers/runtime-spec
// specs-go/features), so containerd 2.x's runc-compatible check can read it. containerd runs
// `-info` before creating a task whose spec has idmapped mounts; without a Features document it
// failed with "unmarshal runtime features", which names neither idmap nor micrun.
//
// `mountExtensions.idmap.enabled` is true although micrun makes no idmapped mount: it means
// "send such a spec to Create", where micrun refuses it by name (InvalidArgument, src/oci/spec.ts)
// and containerd's failed-Create path removes the shim it started. With `false`, containerd 2.1.9
// refuses on its own *after* starting the shim and never stops it (its validateRuntimeFeatures
// runs after ShimManager.Start with no cleanup; upstream main tears the shim down): every such
// `ctr run` would leave an idle daemon behind. The annotations below say idmap is unsupported.
//
// The values describe what micrun does with an OCI spec: it reads the annotations, process.args/env,
// root and linux.resources (docs/architecture.md), runs the firmware on a remote core, and ignores
// what has no meaning for an RTOS. Empty lists mean "none", as in runc's document.
import { ANNOTATION_PREFIX } from '../oci/annotations';

/** containerd's type URL for runtime-spec features (typeurl registration in containerd 2.x). */
export const FEATURES_TYPE_URL = 'types.containerd.io/opencontainers/runtime-spec/1/features/Features';

/** What an RTOS container cannot have; listed in the document's annotations for operators. */
export const UNSUPPORTED = [
  'exec', 'checkpoint', 'hooks', 'mounts (other than the image rootfs)', 'idmap mounts',
  'namespaces', 'capabilities', 'seccomp', 'apparmor', 'selinux', 'cgroups', 'intel-rdt',
] as const;

export function runtimeFeatures(version: string): object {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.2.0',
    // micrun runs no OCI hooks: there is no host process for them to act on.
    hooks: [],
    // Spec mounts are not made (firmware has no file system); the rootfs mounts containerd
    // passes in Create are mounted by micrun to read the firmware, with their own options.
    mountOptions: [],
    linux: {
      namespaces: [],
      capabilities: [],
      cgroup: { v1: false, v2: false, systemd: false, systemdUser: false, rdma: false },
      seccomp: { enabled: false },
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: true } }, // refused at Create instead: see the top of this file
    },
    annotations: {
      'org.openeuler.micrun.version': version,
      'org.openeuler.micrun.annotation-prefix': ANNOTATION_PREFIX,
      'org.openeuler.micrun.unsupported': UNSUPPORTED.join(','),
    },
    potentiallyUnsafeConfigAnnotations: [],
  };
}
