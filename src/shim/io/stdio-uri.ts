// Pure parser for the stdio strings containerd's clients put in CreateTaskRequest. The grammar
// is the runc shim's (cmd/containerd-shim-runc-v2/process/io.go): a plain path or `fifo://`
// is a fifo (or a regular file to append to), `file:///abs` appends to a file, and
// `binary:///abs?k=v` starts a logging binary with argv `path, k, v, ...`. Anything else is
// refused at Create, so a typo never turns into a task that silently loses its output.

import { invalidArgument } from '../../errors';

export type StdioName = 'stdin' | 'stdout' | 'stderr';

export type StdioTarget =
  | { kind: 'none' }
  /** A fifo the client created (or, for outputs, a regular file to append to, like runc). */
  | { kind: 'fifo'; path: string }
  | { kind: 'file'; path: string }
  /** argv after the binary path: each query key followed by its first value. */
  | { kind: 'binary'; path: string; args: string[] };

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//;

/** Parses one stdio string; throws CodedError(InvalidArgument) naming the stream and value. */
export function parseStdioUri(name: StdioName, value: string): StdioTarget {
  if (value === '') return { kind: 'none' };
  const scheme = SCHEME.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) return { kind: 'fifo', path: requireAbsolute(name, value, value) };
  if (scheme === 'fifo') {
    return { kind: 'fifo', path: requireAbsolute(name, value, value.slice('fifo://'.length)) };
  }
  if (scheme !== 'file' && scheme !== 'binary') {
    throw invalidArgument(
      `unknown STDIO scheme "${scheme}" in ${name} "${value}" (supported: fifo path, fifo://, file://, binary://)`,
    );
  }
  if (name === 'stdin') {
    throw invalidArgument(`${scheme}:// is for output only; stdin "${value}" must be a fifo path`);
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (err) {
    throw invalidArgument(`malformed ${name} URI "${value}"`, err);
  }
  if (url.host !== '') {
    throw invalidArgument(
      `${name} URI "${value}" names host "${url.host}"; write an absolute path: ${scheme}:///abs/path`,
    );
  }
  const path = requireAbsolute(name, value, decodeURIComponent(url.pathname));
  if (path.endsWith('/')) throw invalidArgument(`${name} URI "${value}" must name a file, not a directory`);
  if (scheme === 'file') return { kind: 'file', path };
  const args: string[] = [];
  const seen = new Set<string>();
  for (const [key, val] of url.searchParams) {
    // Like Go's url.Query(): a repeated key contributes its first value only.
    if (seen.has(key)) continue;
    seen.add(key);
    args.push(key, val);
  }
  return { kind: 'binary', path, args };
}

function requireAbsolute(name: StdioName, value: string, path: string): string {
  if (!path.startsWith('/') || path.includes('\0')) {
    throw invalidArgument(`${name} "${value}" must name an absolute path`);
  }
  return path;
}
