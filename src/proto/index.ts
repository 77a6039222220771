// src/proto — the protobuf messages micrun speaks, generated from protos/ by `npm run gen:proto`
// (pbjs static-module, int64 as number, no verify()/fromObject/toObject; output committed in
// generated.js/.d.ts).
//
// Owns: typed encode/decode for ttrpc's envelope, containerd's Task v2 / Sandbox v1 services,
// task events, containerd types, cgroups metrics and runtime options; the bare-type-URL Any
// helpers events and Stats need.
// Does not know: transport (src/ttrpc), which RPC does what (src/shim).
//
// Static code rather than reflection (Root.fromJSON) was chosen by measuring a bundled start-up
// (require + first encode/decode; `node scripts/bench/ttrpc-proto-startup.mjs`): 9 ms static vs
// 19 ms reflection on the 2-core CI machine.
//
// Usage:
//   import { containerd, google, ttrpc } from '../proto';
//   const req = containerd.task.v2.CreateTaskRequest.decode(bytes);
//   const out = containerd.task.v2.CreateTaskResponse.encode({ pid: 0 }).finish();
//   const ev = packAny('containerd.events.TaskExit', containerd.events.TaskExit.encode({...}).finish());
export { containerd, google, io, runtime, runtimeoptions, ttrpc } from './generated';
import { google } from './generated';

/** A message class as pbjs generates it: enough to encode/decode by name. */
export interface MessageType<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(bytes: Uint8Array): T;
}

/**
 * Wraps encoded bytes in an Any whose type_url is the bare full name
 * (e.g. `containerd.events.TaskExit`), as containerd's typeurl expects: 1.6 matches it exactly,
 * so no `type.googleapis.com/` prefix.
 */
export function packAny(typeName: string, value: Uint8Array): google.protobuf.Any {
  return google.protobuf.Any.create({ type_url: typeName, value });
}

/** Encodes `message` with `type` and wraps it (see packAny). */
export function toAny<T>(typeName: string, type: MessageType<T>, message: T): google.protobuf.Any {
  return packAny(typeName, type.encode(message).finish());
}

/** A Date as google.protobuf.Timestamp (millisecond precision); undefined → the epoch, as Go's zero time is sent. */
export function toTimestamp(date: Date | undefined): google.protobuf.Timestamp.$Properties {
  const ms = (date ?? new Date(0)).getTime();
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1_000_000 };
}
