// Loads micrun's runtime config: TOML at $MICRUN_CONFIG, else /etc/mica/micrun/config.toml; a
// missing file means defaults. Every section and key is checked against SCHEMA: an unknown key or
// section is an error naming it and the file (the Go micrun silently ignored whole sections),
// and a wrong type names the key. Then the MICRUN_* and OTel environment overrides apply.
// Synchronous and small on purpose: the shim daemon calls it while starting.
import { readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { invalidArgument } from '../errors';
import { PEDESTALS, type Pedestal } from '../oci/pedestals';

export const DEFAULT_CONFIG_PATH = '/etc/mica/micrun/config.toml';
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/**
 * What `start` prints for containerd (shim bootstrap): the bare address every containerd reads,
 * or the JSON form with Task API version 2 (containerd 1.7+) or 3 (2.x only; 1.7 rejects it).
 */
export const BOOTSTRAP_FORMS = ['address', 'json-v2', 'json-v3'] as const;
export type BootstrapForm = (typeof BOOTSTRAP_FORMS)[number];
/**
 * Which containers share one shim daemon. `pod`: a CRI pod's containers share their pod's daemon,
 * any other container gets its own (most isolation). `namespace`: every container of a containerd
 * namespace (pods included) shares one daemon (least memory; a daemon crash takes the namespace's
 * containers with it). docs/architecture.md has the trade-off.
 */
export const DAEMON_GROUPINGS = ['pod', 'namespace'] as const;
export type DaemonGrouping = (typeof DAEMON_GROUPINGS)[number];
/**
 * What a namespace's daemon does once its last container is deleted: `wait` (stay, idle and
 * listening, so the namespace's next container starts without booting a daemon) or `exit`.
 * Pod grouping always exits: a pod's group never comes back.
 */
export const WHEN_EMPTY = ['wait', 'exit'] as const;
export type WhenEmpty = (typeof WHEN_EMPTY)[number];

/** Field names are the TOML keys, so the file, the docs and the code use one spelling. */
export interface Config {
  mica: {
    /** Directory of micad's sockets (mica-create.socket, <name>.socket). */
    socket_dir: string;
    /** Timeout of one micad request. */
    timeout_ms: number;
    /** Default pedestal for new instances ("" = micad's default, bare metal). */
    pedestal: Pedestal | '';
  };
  runtime: {
    /** micrun's own state: persisted containers, staged firmware. */
    state_dir: string;
    log_level: LogLevel;
    /** Largest firmware (or ped.conf) staged into state_dir, usually a tmpfs in RAM. */
    max_firmware_mib: number;
  };
  resources: {
    /** Guest memory when the spec sets no memory limit or reservation. */
    default_memory_mib: number;
    /** vCPUs when the spec sets no cpuset and no quota. */
    default_vcpus: number;
    /** Upper bound on vCPUs per container (create message max_vcpu). */
    max_vcpus: number;
  };
  shim: {
    /** Output form of `start` (see BOOTSTRAP_FORMS); "address" works with containerd 1.6 to 2.x. */
    bootstrap: BootstrapForm;
    /** Which containers share one shim daemon (DAEMON_GROUPINGS). */
    grouping: DaemonGrouping;
    /** What a namespace daemon does after its last container (WHEN_EMPTY). */
    when_empty: WhenEmpty;
  };
  telemetry: {
    /** OTLP/gRPC endpoint for traces; "" = tracing off. OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT wins. */
    otlp_endpoint: string;
  };
  /** The file the values came from; undefined when no file existed (all defaults). */
  source?: string;
}

type Section = Exclude<keyof Config, 'source'>;
type Check = (v: unknown) => string | undefined; // returns what was expected when v is wrong

const absPath: Check = (v) => (typeof v === 'string' && v.startsWith('/') ? undefined : 'an absolute path string');
/** "" (off) or an http(s) URL: a typo must fail at start-up, not leave tracing silently off. */
const endpointUrl: Check = (v) =>
  typeof v === 'string' && (v === '' || /^https?:\/\/[^/\s]+/.test(v)) ? undefined : 'an http:// or https:// URL, or ""';
const int =
  (min: number, max: number): Check =>
  (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `an integer from ${min} to ${max}`;
const oneOf =
  (values: readonly string[]): Check =>
  (v) =>
    typeof v === 'string' && values.includes(v) ? undefined : `one of ${values.map((x) => `"${x}"`).join(', ')}`;

const SCHEMA: { [S in Section]: { [K in keyof Config[S]]: Check } } = {
  mica: { socket_dir: absPath, timeout_ms: int(1, 600_000), pedestal: oneOf(['', ...PEDESTALS]) },
  runtime: { state_dir: absPath, log_level: oneOf(LOG_LEVELS), max_firmware_mib: int(1, 4096) },
  resources: { default_memory_mib: int(1, 1024 * 1024), default_vcpus: int(1, 1024), max_vcpus: int(1, 1024) },
  shim: { bootstrap: oneOf(BOOTSTRAP_FORMS), grouping: oneOf(DAEMON_GROUPINGS), when_empty: oneOf(WHEN_EMPTY) },
  telemetry: { otlp_endpoint: endpointUrl },
};

export function defaultConfig(): Config {
  return {
    mica: { socket_dir: '/run/mica', timeout_ms: 5000, pedestal: '' },
    runtime: { state_dir: '/run/micrun', log_level: 'info', max_firmware_mib: 64 },
    resources: { default_memory_mib: 32, default_vcpus: 1, max_vcpus: 8 },
    shim: { bootstrap: 'address', grouping: 'namespace', when_empty: 'wait' },
    telemetry: { otlp_endpoint: '' },
  };
}

export interface LoadConfigOptions {
  /** Environment to read overrides from; default process.env. */
  env?: NodeJS.ProcessEnv;
  /**
   * Config file; default $MICRUN_CONFIG, else /etc/mica/micrun/config.toml. `start` passes the
   * runtime handler's ConfigPath option here; a named file that does not exist is an error.
   */
  path?: string;
}

export function loadConfig(opts: LoadConfigOptions = {}): Config {
  const env = opts.env ?? process.env;
  const file = opts.path ?? (env.MICRUN_CONFIG || DEFAULT_CONFIG_PATH);
  const config = defaultConfig();

  let text: string | undefined;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    // A missing default file is normal; a missing file someone named explicitly is a mistake.
    const named = opts.path !== undefined || Boolean(env.MICRUN_CONFIG);
    if (code !== 'ENOENT' || named) throw invalidArgument(`cannot read micrun config ${file}: ${(err as Error).message}`, err);
  }
  if (text !== undefined) {
    applyFile(config, text, file);
    config.source = file;
  }

  applyEnv(config, env);
  if (config.resources.default_vcpus > config.resources.max_vcpus) {
    throw invalidArgument(
      `micrun config ${config.source ?? '(defaults)'}: resources.default_vcpus (${config.resources.default_vcpus}) ` +
        `is above resources.max_vcpus (${config.resources.max_vcpus})`,
    );
  }
  return config;
}

function applyFile(config: Config, text: string, file: string): void {
  let doc: Record<string, unknown>;
  try {
    doc = parse(text) as Record<string, unknown>;
  } catch (err) {
    throw invalidArgument(`micrun config ${file} is not valid TOML: ${(err as Error).message}`, err);
  }
  for (const [sectionName, sectionValue] of Object.entries(doc)) {
    if (!Object.hasOwn(SCHEMA, sectionName)) {
      throw invalidArgument(
        `micrun config ${file}: unknown ${isTable(sectionValue) ? 'section' : 'key'} "${sectionName}" ` +
          `(known sections: ${Object.keys(SCHEMA).map((s) => `[${s}]`).join(', ')})`,
      );
    }
    const section = sectionName as Section;
    if (!isTable(sectionValue)) throw invalidArgument(`micrun config ${file}: "${section}" must be a section ([${section}])`);
    const checks = SCHEMA[section] as Record<string, Check>;
    const target = config[section] as Record<string, unknown>;
    for (const [key, value] of Object.entries(sectionValue)) {
      const check = checks[key];
      if (!check) {
        throw invalidArgument(
          `micrun config ${file}: unknown key "${section}.${key}" (keys of [${section}]: ${Object.keys(checks).join(', ')})`,
        );
      }
      const expected = check(value);
      if (expected) throw invalidArgument(`micrun config ${file}: ${section}.${key} must be ${expected}, got ${JSON.stringify(value)}`);
      target[key] = value;
    }
  }
}

function applyEnv(config: Config, env: NodeJS.ProcessEnv): void {
  const override = <S extends Section>(name: string, section: S, key: keyof Config[S] & string) => {
    const value = env[name];
    if (value === undefined || value === '') return;
    const check = (SCHEMA[section] as Record<string, Check>)[key]!;
    const expected = check(value);
    if (expected) throw invalidArgument(`environment ${name}=${JSON.stringify(value)} must be ${expected}`);
    (config[section] as Record<string, unknown>)[key] = value;
  };
  override('MICRUN_MICA_SOCKET_DIR', 'mica', 'socket_dir');
  override('MICRUN_STATE_DIR', 'runtime', 'state_dir');
  override('MICRUN_LOG_LEVEL', 'runtime', 'log_level');
  override('MICRUN_SHIM_GROUPING', 'shim', 'grouping');
  override('MICRUN_SHIM_WHEN_EMPTY', 'shim', 'when_empty');
  // The OTel variables are checked like the file's key: a typo must fail at start-up, not leave
  // tracing silently off or hand the exporter a URL it cannot use.
  override('OTEL_EXPORTER_OTLP_ENDPOINT', 'telemetry', 'otlp_endpoint');
  override('OTEL_EXPORTER_OTLP_TRACES_ENDPOINT', 'telemetry', 'otlp_endpoint');
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

