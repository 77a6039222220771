// The pod's micrun settings in containerd 2.x's shim sandboxer mode. There the CRI plugin sends
// no annotations in CreateSandbox (it makes no pause-container spec for `pod_annotations` to
// filter); the whole CRI PodSandboxConfig arrives as `options` instead. We take its annotations
// with our prefix — what `pod_annotations = ['org.openeuler.micrun.*']` passes on 1.6/1.7 — so a
// pod's settings are validated and inherited by its containers exactly as there.
import { invalidArgument } from '../errors';
import { ANNOTATION_PREFIX } from '../oci/annotations';
import { runtime, type google } from '../proto';

/** Upstream message name; containerd's type URL may carry a host or path before it. */
export const POD_SANDBOX_CONFIG_TYPE = 'runtime.v1.PodSandboxConfig';

/**
 * The sandbox's annotations: ours from the PodSandboxConfig in `options`, overlaid by whatever
 * the request's own annotations field carries (a containerd that sets it knows best). Options of
 * another type carry no pod settings and are ignored.
 */
export function podSandboxAnnotations(
  options: google.protobuf.Any.$Properties | null | undefined,
  annotations: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  if (options && isPodSandboxConfig(options.type_url ?? '')) {
    let config: runtime.v1.PodSandboxConfig;
    try {
      config = runtime.v1.PodSandboxConfig.decode(options.value ?? new Uint8Array());
    } catch (err) {
      throw invalidArgument(`CreateSandbox options are not a valid ${POD_SANDBOX_CONFIG_TYPE}: ${(err as Error).message}`, err);
    }
    for (const [key, value] of Object.entries(config.annotations ?? {})) if (key.startsWith(ANNOTATION_PREFIX)) out[key] = value;
  }
  return { ...out, ...annotations };
}

/** `runtime.v1.PodSandboxConfig`, with or without a prefix, or Go's `k8s.io/cri-api/…/runtime/v1.PodSandboxConfig`. */
function isPodSandboxConfig(typeUrl: string): boolean {
  return /(^|[/.])runtime[/.]v1\.PodSandboxConfig$/.test(typeUrl);
}
