// Facts of micad's control protocol, shared by the client (native/libmica.c packs and sends)
// and by micad-sim (src/sim decodes and serves). Pure constants and pure functions only: no
// sockets, no addon. Source: reference/micrun-and-micad.md §1 (openEuler mcs, micad
// socket_listener.c, mica.py).

/** micad's default socket directory (deleted and re-created at every micad start). */
export const DEFAULT_SOCKET_DIR = '/run/mica';

/** The create listener: receives one binary create_msg per connection. */
export const CREATE_SOCKET_NAME = 'mica-create.socket';

/** Per-instance socket: exists iff the instance exists (micad unlinks it on `rm`). */
export const instanceSocketName = (name: string): string => `${name}.socket`;

// ---------------------------------------------------------------------------------------------
// struct create_msg (x86-64/aarch64 gcc layout, native alignment, little endian)

/** sizeof(struct create_msg): 1771 bytes of fields + 1 alignment byte before the ints. */
export const CREATE_MSG_SIZE = 1772;

/** name[66]: micad forces name[65] = 0, so 65 bytes are usable. */
export const MAX_NAME_BYTES = 65;

export type CreateFieldKind = 'string' | 'bool' | 'int32' | 'pad';

export interface CreateField {
  /** The C member name in micad's struct create_msg. */
  readonly field: string;
  /** The CreateParams key it carries (none for the padding byte). */
  readonly param?:
    | 'name'
    | 'firmwarePath'
    | 'pedestal'
    | 'pedestalConfig'
    | 'debug'
    | 'cpus'
    | 'vcpus'
    | 'maxVcpus'
    | 'cpuWeight'
    | 'cpuCapacity'
    | 'memoryMiB'
    | 'maxMemoryMiB'
    | 'iomem'
    | 'network';
  readonly offset: number;
  readonly size: number;
  readonly kind: CreateFieldKind;
}

/**
 * Every byte of create_msg, in order. Strings are NUL-padded and must leave room for one NUL
 * (usable length = size - 1); ints are int32 little endian where -1 means "unset" (mica.py's
 * convention); bool is one byte 0/1. native/libmica.c pins the same offsets with static asserts.
 */
export const CREATE_MSG_LAYOUT: readonly CreateField[] = [
  { field: 'name', param: 'name', offset: 0, size: 66, kind: 'string' },
  { field: 'path', param: 'firmwarePath', offset: 66, size: 256, kind: 'string' },
  { field: 'ped', param: 'pedestal', offset: 322, size: 16, kind: 'string' },
  { field: 'ped_cfg', param: 'pedestalConfig', offset: 338, size: 256, kind: 'string' },
  { field: 'debug', param: 'debug', offset: 594, size: 1, kind: 'bool' },
  { field: 'cpu_str', param: 'cpus', offset: 595, size: 128, kind: 'string' },
  { field: 'pad', offset: 723, size: 1, kind: 'pad' },
  { field: 'vcpu_num', param: 'vcpus', offset: 724, size: 4, kind: 'int32' },
  { field: 'max_vcpu_num', param: 'maxVcpus', offset: 728, size: 4, kind: 'int32' },
  { field: 'cpu_weight', param: 'cpuWeight', offset: 732, size: 4, kind: 'int32' },
  { field: 'cpu_capacity', param: 'cpuCapacity', offset: 736, size: 4, kind: 'int32' },
  { field: 'memory', param: 'memoryMiB', offset: 740, size: 4, kind: 'int32' },
  { field: 'max_memory', param: 'maxMemoryMiB', offset: 744, size: 4, kind: 'int32' },
  { field: 'iomem', param: 'iomem', offset: 748, size: 512, kind: 'string' },
  { field: 'network', param: 'network', offset: 1260, size: 512, kind: 'string' },
];

/** Usable bytes of a create_msg string field (one stays NUL), e.g. cpu_str: 127. */
export function createFieldMaxBytes(field: CreateField['field']): number {
  const found = CREATE_MSG_LAYOUT.find((f) => f.field === field);
  if (!found || found.kind !== 'string') throw new Error(`create_msg has no string field ${field}`);
  return found.size - 1;
}

/** Value micad (and mica.py) use for an int the caller did not set. */
export const UNSET_INT = -1;

// ---------------------------------------------------------------------------------------------
// Text commands on <name>.socket

/** micad reads one recv() into a zeroed 32-byte buffer and compares with strncmp(…, 32). */
export const CTRL_MSG_SIZE = 32;
/** Longest command a client may send: one byte stays NUL. Longer is an error, never truncated. */
export const MAX_COMMAND_BYTES = CTRL_MSG_SIZE - 1;

/** Commands of the real micad. `set` takes exactly two more space-separated tokens. */
export const MICAD_COMMANDS = ['start', 'stop', 'rm', 'status', 'set', 'gdb'] as const;
/** Commands only micad-sim understands; a real micad answers `Invalid command: <cmd>`. */
export const SIM_EXTENSION_COMMANDS = ['pause', 'resume', 'info'] as const;

/** Prefix of micad's reply text to a command it does not know. */
export const INVALID_COMMAND_TEXT = 'Invalid command: ';
/** micad's reply text to a `set` that is not exactly `set <key> <value>`. */
export const INVALID_SET_TEXT = 'Invalid set command. Usage: set <key> <value>';

// ---------------------------------------------------------------------------------------------
// Replies: `[optional text]` + marker, no separator, then micad closes the connection.

export const MICA_SUCCESS = 'MICA-SUCCESS';
export const MICA_FAILED = 'MICA-FAILED';

export interface Reply {
  ok: boolean;
  /** micad's text before the marker, trimmed (empty for a bare marker). */
  text: string;
}

/**
 * Parses what micad sent so far. Returns undefined while no marker is present (keep reading;
 * EOF in that state is a protocol error). MICA-FAILED is looked for first, as mica.py and the
 * Go micrun do, so a failure whose text happens to mention success is still a failure.
 */
export function parseReply(text: string): Reply | undefined {
  const failed = text.indexOf(MICA_FAILED);
  if (failed >= 0) return { ok: false, text: text.slice(0, failed).trim() };
  const success = text.indexOf(MICA_SUCCESS);
  if (success >= 0) return { ok: true, text: text.slice(0, success).trim() };
  return undefined;
}

/** Encodes a reply exactly as micad writes it (used by micad-sim and test fakes). */
export const formatReply = (ok: boolean, text = ''): string =>
  `${text}${ok ? MICA_SUCCESS : MICA_FAILED}`;

// ---------------------------------------------------------------------------------------------
// `status` reply: snprintf("%-30s%-20s%-20s%s", display_name, cpu_str, state, services)

export const STATUS_NAME_WIDTH = 30;
export const STATUS_CPU_WIDTH = 20;
export const STATUS_STATE_WIDTH = 20;
/** micad's service column buffer; each service appends "<token> " (trailing space). */
export const STATUS_SERVICES_MAX = 256;
/** Names up to this length are printed whole; longer ones become first 12 + "..." + last. */
export const STATUS_NAME_FULL_MAX = 31;

/** The name as micad prints it in `status` (never key on it: long names are shortened). */
export function statusDisplayName(name: string): string {
  if (name.length <= STATUS_NAME_FULL_MAX) return name;
  return `${name.slice(0, 12)}...${name.slice(-1)}`;
}

/** One status line as micad formats it; `services` are tokens such as `rpmsg-tty(/dev/pts/3)`. */
export function formatStatusLine(
  name: string,
  cpus: string,
  state: string,
  services: readonly string[],
): string {
  const column = services.map((s) => `${s} `).join('');
  return (
    statusDisplayName(name).padEnd(STATUS_NAME_WIDTH) +
    cpus.padEnd(STATUS_CPU_WIDTH) +
    state.padEnd(STATUS_STATE_WIDTH) +
    column
  );
}

/** The console service token: `rpmsg-tty(<tty path>)` (endpoint names start with rpmsg-tty). */
export const consoleServiceToken = (ttyPath: string): string => `rpmsg-tty(${ttyPath})`;
