// The options containerd writes on the stdin of `start` and `-info`: a protobuf Any holding the
// runtime's options (CRI's `options` table of a runtime handler, `ctr run --runtime-config-path`),
// or nothing at all. For a non-runc runtime that is `runtimeoptions.v1.Options`, whose
// `config_path` chooses micrun's config file — so two runtime handlers (`micrun`, `micrun-xen`)
// can run with two config files, as kata's handlers do.
//
// Decoded by hand (varint and length-delimited fields only): `start` runs for every container and
// loads no protobuf library. Pure apart from readStdin.
import { fstatSync, readFileSync } from 'node:fs';
import { invalidArgument } from '../errors';

export const RUNTIME_OPTIONS_TYPE = 'runtimeoptions.v1.Options';

export interface StartOptions {
  /** The Any's type URL; '' when containerd wrote nothing. */
  typeUrl: string;
  /** runtimeoptions.v1.Options.config_path; '' when unset. */
  configPath: string;
}

const NONE: StartOptions = { typeUrl: '', configPath: '' };

/**
 * Decodes the stdin bytes. No bytes, or options of another type, choose nothing: containerd 2.x's
 * CRI passes `containerd.runc.v1.Options` to every runtime whose handler has no `options` table
 * (seen with sandboxer = "shim"), so foreign options must not fail a start. config_body (not
 * supported: name a file instead) and a relative config_path are an InvalidArgument naming what
 * to change, so a handler's ConfigPath never silently falls back to the default config.
 */
export function decodeStartOptions(bytes: Uint8Array): StartOptions {
  if (bytes.length === 0) return NONE;
  const any = readFields(bytes, 'options Any');
  const typeUrl = text(any.get(1));
  const value = any.get(2) ?? new Uint8Array();
  // containerd names the type without a host (typeurl of a registered proto), but the Any spec
  // allows `type.googleapis.com/<name>`: compare the last path segment.
  if (typeUrl.slice(typeUrl.lastIndexOf('/') + 1) !== RUNTIME_OPTIONS_TYPE) return { typeUrl, configPath: '' };
  const options = readFields(value, RUNTIME_OPTIONS_TYPE);
  const configPath = text(options.get(2));
  if (text(options.get(3)) !== '') {
    throw invalidArgument(`${RUNTIME_OPTIONS_TYPE}.config_body is not supported by micrun: write the config to a file and set ConfigPath`);
  }
  if (configPath !== '' && !configPath.startsWith('/')) {
    throw invalidArgument(`${RUNTIME_OPTIONS_TYPE}.config_path must be an absolute path, got ${JSON.stringify(configPath)}`);
  }
  return { typeUrl, configPath };
}

/**
 * What containerd wrote on our stdin. It gives a pipe (options) or /dev/null (none); a terminal
 * (someone running `start` by hand) is not read, so it never waits for input.
 */
export function readStdin(fd = 0): Uint8Array {
  let stat;
  try {
    stat = fstatSync(fd);
  } catch {
    return new Uint8Array(); // stdin closed
  }
  if (!stat.isFIFO() && !stat.isFile() && !stat.isSocket()) return new Uint8Array();
  return readFileSync(fd);
}

/** Length-delimited (wire type 2) fields by number, the last occurrence winning; others skipped. */
function readFields(bytes: Uint8Array, what: string): Map<number, Uint8Array> {
  const fields = new Map<number, Uint8Array>();
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      if (pos >= bytes.length) throw malformed(what);
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
    }
    throw malformed(what);
  };
  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    switch (key & 7) {
      case 0:
        varint();
        break;
      case 1:
        pos += 8;
        break;
      case 5:
        pos += 4;
        break;
      case 2: {
        const len = varint();
        if (pos + len > bytes.length) throw malformed(what);
        fields.set(field, bytes.subarray(pos, pos + len));
        pos += len;
        break;
      }
      default:
        throw malformed(what);
    }
    if (pos > bytes.length) throw malformed(what);
  }
  return fields;
}

function text(bytes: Uint8Array | undefined): string {
  return bytes ? Buffer.from(bytes).toString('utf8') : '';
}

function malformed(what: string) {
  return invalidArgument(`the runtime options on stdin are not a valid protobuf ${what}`);
}
