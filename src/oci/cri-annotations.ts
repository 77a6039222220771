// The CRI plugin's annotations on a container's spec that tell micrun which pod it belongs to.
// Constants only, in a module of their own: the `start` one-shot needs them to find the pod's
// daemon and must not load the annotation parser.
export const CRI_CONTAINER_TYPE = 'io.kubernetes.cri.container-type';
export const CRI_SANDBOX_ID = 'io.kubernetes.cri.sandbox-id';
