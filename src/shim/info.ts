// `-info` one-shot: containerd 2.x introspects the runtime with it (stdout = RuntimeInfo protobuf).
import { containerd } from '../proto';

export const RUNTIME_NAME = 'io.containerd.mica.v2';

export function runtimeInfo(version: string): Uint8Array {
  return containerd.types.RuntimeInfo.encode({ name: RUNTIME_NAME, version: { version, revision: '' }, annotations: {} }).finish();
}
