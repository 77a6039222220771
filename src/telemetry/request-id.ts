// The container id of a Task request, read without decoding the message: every
// containerd.task.v2.Task request has `string id = 1`, so the payload starts with tag 0x0a
// (field 1, length-delimited), a varint length and the UTF-8 id. Reading only that prefix keeps
// tracing's cost per call at a few byte reads instead of a second protobuf decode.

/** Longest id we look at; containerd ids are at most 76 characters. */
const MAX_ID_BYTES = 256;

/** Field 1 of `payload` as a string when the message starts with it; otherwise undefined. */
export function leadingStringField(payload: Uint8Array): string | undefined {
  if (payload.length < 2 || payload[0] !== 0x0a) return undefined;
  let len = 0;
  let shift = 0;
  let off = 1;
  for (;;) {
    if (off >= payload.length || shift > 14) return undefined;
    const b = payload[off++]!;
    len |= (b & 0x7f) << shift;
    if ((b & 0x80) === 0) break;
    shift += 7;
  }
  if (len === 0 || len > MAX_ID_BYTES || off + len > payload.length) return undefined;
  return Buffer.from(payload.buffer, payload.byteOffset + off, len).toString('utf8');
}
