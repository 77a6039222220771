// micad-sim's command line. Pure: argv in, options (or a usage error) out.

import { isAbsolute } from 'node:path';
import { invalidArgument } from '../errors';
import { DEFAULT_SOCKET_DIR } from '../mica/wire';

export interface CliOptions {
  socketDir: string;
  /** Undefined: a fresh private directory under the OS temp dir, removed at exit. */
  stateDir: string | undefined;
  qemuPath: string;
  machine: string | undefined;
  help: boolean;
}

export const USAGE = `usage: micad-sim [--socket-dir DIR] [--state-dir DIR] [--qemu PATH] [--machine NAME]

Serves micad's control protocol on DIR (default ${DEFAULT_SOCKET_DIR}) and runs each instance's
firmware in qemu-system-arm. Runs in the foreground; logs to stderr; SIGTERM/SIGINT stop every
QEMU and remove the sockets.

  --socket-dir DIR  micad's socket directory, an absolute path; refused while a live micad
                    serves it; only the sockets micad-sim makes there are removed
  --state-dir DIR   private QEMU sockets, an absolute path (default: a new temp directory)
  --qemu PATH       QEMU binary (default qemu-system-arm)
  --machine NAME    QEMU machine for every instance (default: from the ELF; Cortex-M → mps2-an385)
`;

export function parseCliArgs(argv: readonly string[]): CliOptions {
  const opts: CliOptions = {
    socketDir: DEFAULT_SOCKET_DIR,
    stateDir: undefined,
    qemuPath: 'qemu-system-arm',
    machine: undefined,
    help: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '-h' || arg === '--help') {
      opts.help = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '') throw invalidArgument(`${flag} needs a value\n${USAGE}`);
    switch (flag) {
      case '--socket-dir':
        opts.socketDir = absolute(flag, value);
        break;
      case '--state-dir':
        opts.stateDir = absolute(flag, value);
        break;
      case '--qemu':
        opts.qemuPath = value;
        break;
      case '--machine':
        opts.machine = value;
        break;
      default:
        throw invalidArgument(`unknown option ${flag}\n${USAGE}`);
    }
  }
  return opts;
}

/** Directories must not depend on the cwd of whoever started micad-sim. */
function absolute(flag: string, value: string): string {
  if (!isAbsolute(value)) throw invalidArgument(`${flag} must be an absolute path, got "${value}"\n${USAGE}`);
  return value;
}
