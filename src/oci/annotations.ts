// micrun's annotations (prefix `org.openeuler.micrun.`), CRI container classification, pod
// annotation inheritance and the image-Env hints. Key names follow the Go micrun where the meaning
// is the same so existing pod specs keep working. Unknown keys under our prefix are an error (a
// typo must not be silently ignored); keys the Go micrun had but that mean nothing here are
// accepted and reported back so the caller can log them.
import { invalidArgument } from '../errors';
import { CRI_CONTAINER_TYPE, CRI_SANDBOX_ID } from './cri-annotations';
import { isPedestal, PEDESTALS, type Pedestal } from './pedestals';
import { MAX_MEMORY_MIB } from './resources';

export { CRI_CONTAINER_TYPE, CRI_SANDBOX_ID } from './cri-annotations';

export const ANNOTATION_PREFIX = 'org.openeuler.micrun.';

/** Upper bound that catches unit mistakes (bytes given as MiB) before micad sees them. */
const MAX_VCPUS = 1024;

export interface MicrunAnnotations {
  /** `container.firmware_path`: firmware path inside the rootfs. */
  firmwarePath?: string;
  /** `container.firmware_hash`: lower-case sha256 hex (a `sha256:` prefix is accepted and dropped). */
  firmwareSha256?: string;
  /** `container.min_memory_mb`: memory when the spec sets no limit or reservation. */
  minMemoryMiB?: number;
  /** `container.max_vcpu_num` */
  maxVcpus?: number;
  /** `ped.pedestal` */
  pedestal?: Pedestal;
  /** `ped.conf`: pedestal configuration (Xen: kernel image path inside the rootfs). */
  pedestalConfig?: string;
  /** `container.debug`: ask micad to start the instance with its gdb stub. */
  debug?: boolean;
  /** Keys the Go micrun understood that have no effect here, with the reason (log them). */
  ignored: { key: string; reason: string }[];
}

type Parser = (value: string, key: string, out: MicrunAnnotations) => void;

const KEYS: Record<string, Parser> = {
  'container.firmware_path': (v, key, out) => {
    if (v === '' || v.includes('\0')) throw bad(key, v, 'a path inside the image rootfs, e.g. /firmware.elf');
    out.firmwarePath = v;
  },
  'container.firmware_hash': (v, key, out) => {
    const hex = v.trim().toLowerCase().replace(/^sha256:/, '');
    if (!/^[0-9a-f]{64}$/.test(hex)) throw bad(key, v, 'a sha256 digest: 64 hex digits, optionally prefixed "sha256:"');
    out.firmwareSha256 = hex;
  },
  'container.min_memory_mb': (v, key, out) => {
    out.minMemoryMiB = parsePositiveInt(v, key, MAX_MEMORY_MIB);
  },
  'container.max_vcpu_num': (v, key, out) => {
    out.maxVcpus = parsePositiveInt(v, key, MAX_VCPUS);
  },
  'container.debug': (v, key, out) => {
    out.debug = parseBool(v, key);
  },
  'ped.pedestal': (v, key, out) => {
    if (!isPedestal(v)) throw bad(key, v, `one of ${PEDESTALS.join(', ')}`);
    out.pedestal = v;
  },
  'ped.conf': (v, key, out) => {
    if (v === '' || v.includes('\0')) throw bad(key, v, 'a path inside the image rootfs, e.g. /image.bin');
    out.pedestalConfig = v;
  },
};

/** Go micrun keys accepted for compatibility; they change nothing here. */
const IGNORED: Record<string, string> = {
  'container.auto_close': 'micrun has no auto-close: a container runs until the firmware ends or it is killed',
  'container.auto_close_timeout': 'micrun has no auto-close: a container runs until the firmware ends or it is killed',
  'container.auto_disconnect_timeout': 'deprecated in the Go micrun already',
  'container.os': 'micad runs the ELF as it is; nothing depends on the RTOS name',
  'runtime.enable_vcpus_pinning': 'vCPU pinning follows linux.resources.cpu.cpus',
  'runtime.vcpu_pcpu_binding': 'vCPU pinning follows linux.resources.cpu.cpus',
  'runtime.static_resource': 'Update is applied when micad accepts it',
  'runtime.pause': 'the pause image is never inspected',
  'config_path': "the runtime config comes from the runtime handler's ConfigPath option, MICRUN_CONFIG or /etc/mica/micrun/config.toml",
};
/** Written by the Go image builder; informational only. */
const IGNORED_PREFIXES = ['compatibility.', 'custom.', 'ped.compatibility', 'ped.net_placeholder'];

/** Parses and validates every `org.openeuler.micrun.*` annotation; other keys are not looked at. */
export function parseAnnotations(annotations: Record<string, string>): MicrunAnnotations {
  const out: MicrunAnnotations = { ignored: [] };
  for (const [fullKey, value] of Object.entries(annotations)) {
    if (!fullKey.startsWith(ANNOTATION_PREFIX)) continue;
    const key = fullKey.slice(ANNOTATION_PREFIX.length);
    const parse = KEYS[key];
    if (parse) {
      parse(value, fullKey, out);
    } else if (IGNORED[key] !== undefined) {
      out.ignored.push({ key: fullKey, reason: IGNORED[key] });
    } else if (IGNORED_PREFIXES.some((p) => key.startsWith(p))) {
      out.ignored.push({ key: fullKey, reason: 'informational (image builder metadata)' });
    } else {
      throw invalidArgument(
        `unknown annotation ${fullKey}; micrun understands ${Object.keys(KEYS)
          .map((k) => ANNOTATION_PREFIX + k)
          .join(', ')}`,
      );
    }
  }
  return out;
}

/** infra: the CRI pause container; pod: a container inside a CRI pod; single: ctr / nerdctl run. */
export type ContainerKind = 'infra' | 'pod' | 'single';

export interface Classification {
  kind: ContainerKind;
  /** The sandbox (pod) this container belongs to; a single container is its own sandbox. */
  sandboxId: string;
}

export function classifyContainer(annotations: Record<string, string>, containerId: string): Classification {
  const type = annotations[CRI_CONTAINER_TYPE];
  const sandboxId = annotations[CRI_SANDBOX_ID];
  switch (type) {
    case undefined:
      return { kind: 'single', sandboxId: containerId };
    case 'sandbox':
      return { kind: 'infra', sandboxId: sandboxId || containerId };
    case 'container':
      if (!sandboxId) {
        throw invalidArgument(`container ${containerId} is a CRI pod container but annotation ${CRI_SANDBOX_ID} is missing`);
      }
      return { kind: 'pod', sandboxId };
    default:
      throw invalidArgument(`annotation ${CRI_CONTAINER_TYPE}="${type}" is neither "sandbox" nor "container"`);
  }
}

/**
 * Annotations a pod container runs with: the sandbox's `org.openeuler.micrun.*` ones (pod-level
 * settings such as the pedestal), overridden by the container's own.
 */
export function inheritAnnotations(
  sandbox: Record<string, string>,
  container: Record<string, string>,
): Record<string, string> {
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(sandbox)) if (k.startsWith(ANNOTATION_PREFIX)) merged[k] = v;
  return Object.assign(merged, container);
}

/**
 * Hints carried as image Env (`MICRUN_PEDESTAL=xen`): containerd copies image Env into
 * process.env, while image annotations never reach the runtime spec.
 */
export interface EnvHints {
  /** MICRUN_PEDESTAL, validated like ped.pedestal */
  pedestal?: Pedestal;
  /** Every `MICRUN_*` entry, name → value, for hints not modelled above. */
  all: Record<string, string>;
}

/** Reads the hints from process.env; a bad MICRUN_PEDESTAL is InvalidArgument naming it. */
export function readEnvHints(env: readonly string[]): EnvHints {
  const all: Record<string, string> = {};
  for (const entry of env) {
    const eq = entry.indexOf('=');
    if (eq <= 0) continue;
    const name = entry.slice(0, eq);
    if (name.startsWith('MICRUN_')) all[name] = entry.slice(eq + 1);
  }
  const hints: EnvHints = { all };
  if (all.MICRUN_PEDESTAL) {
    if (!isPedestal(all.MICRUN_PEDESTAL)) throw badEnv('MICRUN_PEDESTAL', all.MICRUN_PEDESTAL, `one of ${PEDESTALS.join(', ')}`);
    hints.pedestal = all.MICRUN_PEDESTAL;
  }
  return hints;
}

function badEnv(name: string, value: string, expected: string) {
  return invalidArgument(`image Env ${name}=${JSON.stringify(value)} (process.env) is invalid: expected ${expected}`);
}

function parsePositiveInt(v: string, key: string, max: number): number {
  if (!/^\d+$/.test(v.trim())) throw bad(key, v, `a whole number from 1 to ${max}`);
  const n = Number(v.trim());
  if (n < 1 || n > max) throw bad(key, v, `a whole number from 1 to ${max}`);
  return n;
}

function parseBool(v: string, key: string): boolean {
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw bad(key, v, 'true or false');
}

function bad(key: string, value: string, expected: string) {
  return invalidArgument(`annotation ${key}=${JSON.stringify(value)} is invalid: expected ${expected}`);
}
