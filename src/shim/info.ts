// `-info` one-shot: containerd 2.x introspects the runtime with it (stdout = RuntimeInfo protobuf).
// stdin carries the runtime options containerd would start us with (a protobuf Any, or nothing);
// like the runc shim we echo them back, checked (start-options.ts), beside the Features document.
import { containerd, google } from '../proto';
import { runtimeFeatures, FEATURES_TYPE_URL } from './runtime-features';
import { decodeStartOptions } from './start-options';

export const RUNTIME_NAME = 'io.containerd.mica.v2';

export function runtimeInfo(version: string, stdin: Uint8Array = new Uint8Array()): Uint8Array {
  decodeStartOptions(stdin); // options `start` would refuse are refused here too, with the same message
  const options = stdin.length > 0 ? google.protobuf.Any.decode(stdin) : undefined;
  const features = Buffer.from(JSON.stringify(runtimeFeatures(version)));
  return containerd.types.RuntimeInfo.encode({
    name: RUNTIME_NAME,
    version: { version, revision: '' },
    ...(options ? { options } : {}),
    features: google.protobuf.Any.create({ type_url: FEATURES_TYPE_URL, value: features }),
    annotations: {},
  }).finish();
}
