// A minimal ustar writer: regular files and directories, in memory. Enough for an OCI image
// layer (one firmware file) and the image archive around it; no dependency, deterministic output
// (same entries → same bytes, so the same firmware gives the same digests).

export interface TarEntry {
  /** Path inside the archive, "/"-separated, no leading "/". Directories may end with "/". */
  name: string;
  /** File contents; omit for a directory. */
  data?: Buffer;
  /** Permission bits; default 0644 for files, 0755 for directories. */
  mode?: number;
  /** Seconds since the epoch; default 0 (reproducible). */
  mtime?: number;
}

const BLOCK = 512;

/** Serialises `entries` as a ustar archive (with the two zero blocks that end it). */
export function writeTar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const isDir = e.data === undefined;
    const data = e.data ?? Buffer.alloc(0);
    const name = isDir && !e.name.endsWith('/') ? `${e.name}/` : e.name;
    parts.push(header(name, isDir, data.length, e.mode ?? (isDir ? 0o755 : 0o644), e.mtime ?? 0));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

function header(name: string, isDir: boolean, size: number, mode: number, mtime: number): Buffer {
  if (name.startsWith('/') || name.split('/').includes('..')) throw new Error(`tar entry name must be relative without "..": ${name}`);
  const { prefix, base } = splitName(name);
  const h = Buffer.alloc(BLOCK);
  h.write(base, 0, 100, 'utf8');
  octal(h, 100, 8, mode & 0o7777);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, mtime);
  h.fill(0x20, 148, 156); // checksum field counts as spaces while summing
  h.write(isDir ? '5' : '0', 156, 1, 'ascii');
  h.write('ustar\0', 257, 6, 'ascii');
  h.write('00', 263, 2, 'ascii');
  h.write('root', 265, 32, 'ascii');
  h.write('root', 297, 32, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
  return h;
}

/** ustar keeps names up to 100 bytes, or a prefix (≤155) + "/" + name (≤100). */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  const trimmed = name.endsWith('/') ? name.slice(0, -1) : name;
  const trailing = name.endsWith('/') ? '/' : '';
  for (let i = trimmed.lastIndexOf('/'); i > 0; i = trimmed.lastIndexOf('/', i - 1)) {
    const prefix = trimmed.slice(0, i);
    const base = trimmed.slice(i + 1) + trailing;
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new Error(`tar entry name too long for ustar: ${name}`);
}

function octal(buf: Buffer, offset: number, width: number, value: number): void {
  const digits = value.toString(8);
  if (digits.length > width - 1) throw new Error(`value ${value} does not fit a ${width}-byte tar field`);
  buf.write(`${digits.padStart(width - 1, '0')}\0`, offset, width, 'ascii');
}
