// Decodes micad's binary create_msg (the layout lives in src/mica/wire.ts, shared with the
// client). Pure: bytes in, CreateParams out. Like micad, a short message is read as if the
// missing tail were zeros, and name[65] is forced to NUL (65 usable bytes).

import { invalidArgument } from '../errors';
import type { CreateParams } from '../mica/types';
import { CREATE_MSG_LAYOUT, CREATE_MSG_SIZE, MAX_NAME_BYTES, UNSET_INT } from '../mica/wire';

/** Every field of create_msg, with micad's "unset" values kept as sent (-1, ""). */
export type DecodedCreateMessage = Required<CreateParams>;

export function decodeCreateMessage(bytes: Buffer): DecodedCreateMessage {
  if (bytes.length > CREATE_MSG_SIZE) {
    throw invalidArgument(
      `create message is ${bytes.length} bytes, larger than struct create_msg (${CREATE_MSG_SIZE})`,
    );
  }
  const msg = Buffer.alloc(CREATE_MSG_SIZE);
  bytes.copy(msg);
  msg[MAX_NAME_BYTES] = 0;

  const out: Record<string, string | number | boolean> = {};
  for (const f of CREATE_MSG_LAYOUT) {
    if (!f.param) continue;
    switch (f.kind) {
      case 'string':
        out[f.param] = cString(msg, f.offset, f.size);
        break;
      case 'bool':
        out[f.param] = msg[f.offset] !== 0;
        break;
      case 'int32':
        out[f.param] = msg.readInt32LE(f.offset);
        break;
      case 'pad':
        break;
    }
  }
  return out as unknown as DecodedCreateMessage;
}

/** A C string inside a fixed-size field: up to the first NUL (or the whole field). */
function cString(buf: Buffer, offset: number, size: number): string {
  const field = buf.subarray(offset, offset + size);
  const nul = field.indexOf(0);
  return field.subarray(0, nul < 0 ? size : nul).toString('utf8');
}

/** True when a decoded int means "not set" (mica.py sends -1; micrun sends real values). */
export const isUnset = (value: number): boolean => value === UNSET_INT;
