// Parses the shim's argv the way Go's `flag` package does, because containerd builds the
// command line for a Go binary: `-flag value`, `--flag value`, `-flag=value`, booleans bare,
// and parsing stops at the first word that is not a flag (the action).
import { basename } from 'node:path';

export interface ShimArgs {
  namespace: string;
  address: string;
  publishBinary: string;
  id: string;
  bundle: string;
  debug: boolean;
  /** Socket path handed to the daemon by `start` (hidden flag, like the Go shim's -socket). */
  socket: string;
  action: ShimAction;
}

export type ShimAction = 'start' | 'delete' | 'info' | 'version' | 'serve';

/** The hidden action `start` uses to run the daemon (same binary, re-executed). */
export const SERVE_ACTION = 'serve';

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const STRING_FLAGS = {
  namespace: 'namespace',
  address: 'address',
  'publish-binary': 'publishBinary',
  id: 'id',
  bundle: 'bundle',
  socket: 'socket',
  // Accepted and ignored: flags the Go shim library defines that containerd may pass one day.
  'debug-socket': undefined,
} as const satisfies Record<string, keyof ShimArgs | undefined>;

const BOOL_FLAGS = new Set(['debug', 'info', 'v', 'version', 'h', 'help']);

export function parseArgs(argv: readonly string[]): ShimArgs {
  const out: ShimArgs = {
    namespace: '',
    address: '',
    publishBinary: '',
    id: '',
    bundle: '',
    debug: false,
    socket: '',
    action: 'start',
  };
  const bools = new Set<string>();
  let i = 0;
  for (; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') {
      i++;
      break;
    }
    if (!word.startsWith('-') || word === '-') break;
    const body = word.startsWith('--') ? word.slice(2) : word.slice(1);
    const eq = body.indexOf('=');
    const name = eq >= 0 ? body.slice(0, eq) : body;
    if (BOOL_FLAGS.has(name)) {
      const value = eq >= 0 ? body.slice(eq + 1) : 'true';
      if (!['true', 'false', '1', '0', 't', 'f', 'TRUE', 'FALSE', 'True', 'False'].includes(value)) {
        throw new UsageError(`invalid boolean value "${value}" for flag -${name}`);
      }
      if (['true', '1', 't', 'TRUE', 'True'].includes(value)) bools.add(name);
      continue;
    }
    if (!(name in STRING_FLAGS)) throw new UsageError(`flag provided but not defined: -${name}`);
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new UsageError(`flag needs an argument: -${name}`);
      value = next;
      i++;
    }
    const key = STRING_FLAGS[name as keyof typeof STRING_FLAGS];
    if (key) (out as unknown as Record<string, string>)[key] = value;
  }
  const rest = argv.slice(i);
  out.debug = bools.has('debug');
  if (bools.has('h') || bools.has('help')) throw new UsageError('help requested');
  if (bools.has('v') || bools.has('version')) {
    out.action = 'version';
    return out;
  }
  if (bools.has('info')) {
    out.action = 'info';
    return out;
  }
  const action = rest[0];
  if (rest.length !== 1 || (action !== 'start' && action !== 'delete' && action !== SERVE_ACTION)) {
    throw new UsageError(action === undefined ? 'missing action' : `unknown action "${rest.join(' ')}"`);
  }
  out.action = action;
  if (!out.id) throw new UsageError(`-id is required for ${action}`);
  if (!out.namespace) throw new UsageError(`-namespace is required for ${action}`);
  return out;
}

export function usage(argv0: string): string {
  const name = basename(argv0).replace(/\.js$/, '');
  return [
    `usage: ${name} -namespace NS -address ADDR -publish-binary BIN -id ID [-bundle DIR] [-debug] start|delete`,
    `       ${name} -info | -v`,
    '',
  ].join('\n');
}
