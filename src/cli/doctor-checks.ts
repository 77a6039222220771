// The checks of `micrun doctor`, each a small function returning a CheckResult with a one-line
// fix. They only look: nothing is created on the node except a probe file in an existing state
// dir that is removed at once, and micad is asked `status` of existing instances (what `mica status` does).
// Order matters for the reader: the micrun config decides the socket and state dirs the later
// checks look at.
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { defaultConfig, loadConfig, type Config } from '../config';
import { loadAddon } from '../mica/addon';
import { createMicaClient } from '../mica/client';
import { DEFAULT_GRPC_ADDRESS, HANDLER, inspectContainerdConfig, RUNTIME_TYPE, type ContainerdConfigFacts } from './containerd-config';
import { containerdVersion, type ContainerdVersion } from './containerd-binary';
import { which } from './which';

export interface CheckResult {
  name: string;
  /** fail makes doctor exit 1; warn is worth a look; info only reports. */
  status: 'ok' | 'fail' | 'warn' | 'info';
  detail: string;
  /** One line: what to do about it (set for fail and warn). */
  hint?: string;
}

export interface DoctorOptions {
  env: NodeJS.ProcessEnv;
  containerdConfig: string;
  /** containerd binary; default: containerd on PATH. */
  containerd?: string;
}

const SHIM = 'containerd-shim-mica-v2';
const CREATE_SOCKET = 'mica-create.socket';
const PROBE_TIMEOUT_MS = 3000;

export async function runChecks(opts: DoctorOptions): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const { config, result } = checkMicrunConfig(opts.env);
  results.push(result);
  const addon = checkAddon();
  results.push(addon);
  results.push(await checkMicad(config.mica.socket_dir, addon.status === 'ok', config.mica.timeout_ms));
  results.push(checkStateDir(config.runtime.state_dir));
  const containerd = opts.containerd ?? which('containerd', opts.env);
  const version = containerd ? containerdVersion(containerd) : undefined;
  results.push(checkContainerdVersion(containerd, version));
  const facts = readContainerdConfig(opts.containerdConfig);
  results.push(checkRuntimeRegistered(opts.containerdConfig, facts));
  results.push(checkConfigFormat(opts.containerdConfig, facts, version));
  results.push(checkSandboxer(facts, version));
  results.push(checkShimOnPath(opts.env, containerd));
  results.push(checkRunningContainerd('error' in facts ? DEFAULT_GRPC_ADDRESS : facts.facts.grpcAddress));
  const sim = simulatorAt(config.mica.socket_dir);
  if (sim) results.push(...checkSimulator(sim, opts.env));
  return results;
}

function checkMicrunConfig(env: NodeJS.ProcessEnv): { config: Config; result: CheckResult } {
  try {
    const config = loadConfig({ env });
    const where = config.source ?? 'no config file, defaults';
    return {
      config,
      result: { name: 'micrun config', status: 'ok', detail: `${where} (socket_dir ${config.mica.socket_dir}, state_dir ${config.runtime.state_dir})` },
    };
  } catch (err) {
    return {
      config: defaultConfig(),
      result: {
        name: 'micrun config',
        status: 'fail',
        detail: (err as Error).message,
        hint: 'correct the key named above (docs/configuration.md lists every key); the checks below use the defaults',
      },
    };
  }
}

/** `load` is the addon loader (a parameter so that the failing case can be tested). */
export function checkAddon(load: () => unknown = loadAddon): CheckResult {
  try {
    load();
    return { name: 'libmica addon', status: 'ok', detail: 'loads' };
  } catch (err) {
    return {
      name: 'libmica addon',
      status: 'fail',
      detail: (err as Error).message.split('\n')[0]!,
      hint: 'reinstall micrun with a C toolchain present (apt-get install python3 make g++), or run `npm run build:native` in its package dir',
    };
  }
}

/**
 * micad has no global status command: its create socket only takes a create message. So the
 * round trip is a connect to mica-create.socket (refused = a stale socket of a dead micad) and
 * `status` to every instance socket, as `mica status` does.
 */
async function checkMicad(socketDir: string, addonLoads: boolean, timeoutMs: number): Promise<CheckResult> {
  const name = 'micad';
  const createSocket = path.join(socketDir, CREATE_SOCKET);
  const start = `start micad (systemctl start micad), or micad-sim --socket-dir ${socketDir}; set [mica] socket_dir if micad uses another dir`;
  try {
    await connectOnce(createSocket);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') {
      return { name, status: 'fail', detail: `${createSocket} refuses connections (a micad that died left it)`, hint: `restart micad; ${start}` };
    }
    return { name, status: 'fail', detail: `cannot connect to ${createSocket}: ${(err as Error).message}`, hint: start };
  }
  const instances = readdirSync(socketDir).filter((f) => f.endsWith('.socket') && f !== CREATE_SOCKET).map((f) => f.slice(0, -'.socket'.length));
  if (instances.length === 0 || !addonLoads) {
    return { name, status: 'ok', detail: `accepts connections at ${createSocket}, no instances` + (addonLoads ? '' : ' checked (addon missing)') };
  }
  const client = createMicaClient({ socketDir, timeoutMs: Math.min(timeoutMs, PROBE_TIMEOUT_MS) });
  const states: string[] = [];
  for (const instance of instances) {
    try {
      states.push(`${instance} ${(await client.status(instance)).state}`);
    } catch (err) {
      return { name, status: 'fail', detail: `status of instance ${instance} failed: ${(err as Error).message}`, hint: `check micad's log (journalctl -u micad); ${start}` };
    }
  }
  return { name, status: 'ok', detail: `answers at ${socketDir}: ${states.join(', ')}` };
}

function connectOnce(socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const sock = net.createConnection(socketPath);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(Object.assign(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' }));
    }, PROBE_TIMEOUT_MS);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.end();
      resolve();
    });
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Writable = a probe file can be made in it; a dir that does not exist yet must be creatable (not created here). */
function checkStateDir(stateDir: string): CheckResult {
  const fail = (why: string): CheckResult => ({
    name: 'state dir',
    status: 'fail',
    detail: `${stateDir} is not writable: ${why}`,
    hint: 'run containerd (and doctor) as root, or point [runtime] state_dir / MICRUN_STATE_DIR at a writable dir',
  });
  if (!existsSync(stateDir)) {
    let parent = path.dirname(stateDir);
    while (!existsSync(parent)) parent = path.dirname(parent);
    try {
      if (!statSync(parent).isDirectory()) return fail(`${parent} is not a directory`);
      accessSync(parent, constants.W_OK);
      return { name: 'state dir', status: 'ok', detail: `${stateDir} does not exist yet; micrun can create it in ${parent}` };
    } catch (err) {
      return fail((err as Error).message);
    }
  }
  const probe = path.join(stateDir, `.doctor-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe);
    return { name: 'state dir', status: 'ok', detail: `${stateDir} is writable` };
  } catch (err) {
    return fail((err as Error).message);
  }
}

type Facts = { facts: ContainerdConfigFacts } | { error: string; missing: boolean };

function readContainerdConfig(file: string): Facts {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    return { error: `cannot read ${file}: ${(err as Error).message}`, missing: (err as NodeJS.ErrnoException).code === 'ENOENT' };
  }
  try {
    return { facts: inspectContainerdConfig(text, file) };
  } catch (err) {
    return { error: (err as Error).message, missing: false };
  }
}

function checkRuntimeRegistered(file: string, read: Facts): CheckResult {
  const name = 'containerd config';
  const install = `micrun install --containerd-config ${file}`;
  if ('error' in read) return { name, status: 'fail', detail: read.error, hint: read.missing ? install : `fix ${file}, then ${install}` };
  const { facts } = read;
  if (!facts.micrun) return { name, status: 'fail', detail: `${file} (version ${facts.version}) has no CRI runtime "${HANDLER}"`, hint: install };
  if (facts.micrun.runtime_type !== RUNTIME_TYPE) {
    return {
      name,
      status: 'fail',
      detail: `runtime "${HANDLER}" in ${file} has runtime_type ${JSON.stringify(facts.micrun.runtime_type)}, not ${RUNTIME_TYPE}`,
      hint: `set runtime_type = "${RUNTIME_TYPE}" in its table`,
    };
  }
  if (!facts.runcPresent) {
    return {
      name,
      status: 'fail',
      detail: `${file} lists CRI runtimes without runc: containerd 1.6's CRI plugin fails to load ("no corresponding runtime configured … runc")`,
      hint: 'add [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc] runtime_type = "io.containerd.runc.v2"',
    };
  }
  if (facts.criDisabled) {
    return { name, status: 'warn', detail: `${file} registers "${HANDLER}" but disables the CRI plugin`, hint: 'remove the CRI plugin from disabled_plugins for Kubernetes (ctr and nerdctl work without it)' };
  }
  return { name, status: 'ok', detail: `${file} (version ${facts.version}) registers "${HANDLER}" → ${RUNTIME_TYPE}; runc present` };
}

function checkContainerdVersion(binary: string | undefined, version: ContainerdVersion | undefined): CheckResult {
  if (!binary) return { name: 'containerd', status: 'fail', detail: 'containerd is not on PATH', hint: 'apt-get install containerd (1.6 or later), or pass --containerd FILE' };
  if (!version) return { name: 'containerd', status: 'fail', detail: `${binary} --version printed no version`, hint: 'reinstall containerd' };
  return { name: 'containerd', status: 'ok', detail: `${binary} ${version.version}` };
}

/** containerd 1.x cannot read config version 3; 2.x migrates version 2 on every start. */
function checkConfigFormat(file: string, read: Facts, version: ContainerdVersion | undefined): CheckResult {
  const name = 'config format';
  if ('error' in read || !version) return { name, status: 'info', detail: 'not checked (containerd config or version unknown)' };
  if (read.facts.version === 3 && version.major < 2) {
    return { name, status: 'fail', detail: `${file} is version 3, which containerd ${version.version} cannot read`, hint: 'regenerate it with `containerd config default`, then micrun install' };
  }
  if (read.facts.version === 2 && version.major >= 2) {
    return { name, status: 'warn', detail: `${file} is version 2: containerd ${version.version} migrates it at every start`, hint: 'containerd config migrate > new.toml, review, replace' };
  }
  return { name, status: 'ok', detail: `version ${read.facts.version} suits containerd ${version.version}` };
}

function checkSandboxer(read: Facts, version: ContainerdVersion | undefined): CheckResult {
  const name = 'CRI sandboxer';
  if (version && version.major < 2) return { name, status: 'info', detail: `podsandbox (containerd ${version.version} has only this mode: a pause container through the Task API)` };
  if ('error' in read || !read.facts.micrun) return { name, status: 'info', detail: 'not checked (runtime not registered)' };
  const sandboxer = read.facts.micrun.sandboxer ?? 'podsandbox';
  if (sandboxer === 'shim' && read.facts.micrun.options !== undefined) {
    return { name, status: 'warn', detail: 'sandboxer "shim" with an options table', hint: 'drop the options table of runtime micrun: containerd 2.1 fails container start with both (fixed after 2.1.9)' };
  }
  return { name, status: 'info', detail: `${String(sandboxer)}${sandboxer === 'shim' ? " (containerd calls micrun's Sandbox service)" : ' (a pause container through the Task API)'}` };
}

/**
 * containerd looks the shim up on its own PATH, then beside its own binary. Under systemd that
 * PATH is the unit's default, which includes /usr/local/bin where micrun install links it; here
 * we check the PATH doctor runs with and containerd's dir.
 */
function checkShimOnPath(env: NodeJS.ProcessEnv, containerd: string | undefined): CheckResult {
  const found = which(SHIM, env, containerd ? [path.dirname(containerd)] : []);
  if (!found) {
    return { name: 'shim', status: 'fail', detail: `${SHIM} is not on PATH${containerd ? ` nor beside ${containerd}` : ''}`, hint: 'micrun install links it into /usr/local/bin (or npm install -g micrun)' };
  }
  return { name: 'shim', status: 'ok', detail: found };
}

/**
 * What the running containerd will find. It runs the shim from its own PATH (or beside its own
 * binary), and the shim's launcher runs `node` from the PATH it inherits — under systemd the
 * unit's, which is not the PATH of the shell doctor runs in (node from nvm or /opt is a common
 * miss). Read from the process itself, so a unit's Environment= or drop-in is seen as it is.
 */
function checkRunningContainerd(grpcAddress: string): CheckResult {
  const name = "containerd's PATH";
  const pid = socketOwner(grpcAddress);
  if (pid === undefined) return { name, status: 'info', detail: `no containerd serves ${grpcAddress}: the PATH it will run the shim with is not checked` };
  const env = processEnv(pid);
  if (!env) return { name, status: 'info', detail: `containerd pid ${pid}: its environment is not readable here (run doctor as root)` };
  let exe: string | undefined;
  try {
    exe = readlinkSync(`/proc/${pid}/exe`);
  } catch {
    // judged by PATH alone
  }
  // glibc's execvp and Go's LookPath with no PATH: /bin:/usr/bin.
  const pathEnv = { PATH: env.PATH ?? '/bin:/usr/bin' };
  const shim = which(SHIM, pathEnv, exe ? [path.dirname(exe)] : []);
  const node = which('node', pathEnv);
  const fix = 'link it into a directory of that PATH (e.g. /usr/local/bin), or set Environment=PATH=… for containerd (systemctl edit containerd) and restart it';
  if (!shim) return { name, status: 'fail', detail: `containerd pid ${pid} cannot find ${SHIM} on its PATH ${pathEnv.PATH}`, hint: `micrun install links the shim into /usr/local/bin; or ${fix}` };
  if (!node) return { name, status: 'fail', detail: `containerd pid ${pid} runs the shim, but node is not on its PATH ${pathEnv.PATH}`, hint: `node: ${fix}` };
  return { name, status: 'ok', detail: `containerd pid ${pid} runs ${shim} with node ${node}` };
}

/** /proc/<pid>/environ as an object; undefined when not readable (another user's process). */
function processEnv(pid: number): NodeJS.ProcessEnv | undefined {
  const env: NodeJS.ProcessEnv = {};
  try {
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      const eq = kv.indexOf('=');
      if (eq > 0) env[kv.slice(0, eq)] = kv.slice(eq + 1);
    }
  } catch {
    return undefined;
  }
  return env;
}

/** The micad-sim process that listens on `<socketDir>/mica-create.socket`, if that is who listens. */
interface Simulator {
  pid: number;
  env: NodeJS.ProcessEnv;
  qemuArg?: string;
}

function simulatorAt(socketDir: string): Simulator | undefined {
  const pid = socketOwner(path.join(socketDir, CREATE_SOCKET));
  if (pid === undefined) return undefined;
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return undefined;
  }
  if (!argv.some((a) => path.basename(a).startsWith('micad-sim'))) return undefined;
  // Another user's process: judge with an empty environment.
  const env = processEnv(pid) ?? {};
  const q = argv.findIndex((a) => a === '--qemu' || a.startsWith('--qemu='));
  const qemuArg = q < 0 ? undefined : argv[q]!.includes('=') ? argv[q]!.split('=')[1] : argv[q + 1];
  return { pid, env, qemuArg };
}

function checkSimulator(sim: Simulator, env: NodeJS.ProcessEnv): CheckResult[] {
  const qemu = sim.qemuArg ?? which('qemu-system-arm', sim.env);
  return [
    { name: 'micad-sim', status: 'info', detail: `micad is the simulator (pid ${sim.pid}); firmware runs in qemu-system-arm, not on a MICA core` },
    qemu
      ? { name: 'qemu', status: 'ok', detail: qemu }
      : { name: 'qemu', status: 'fail', detail: "qemu-system-arm is not on micad-sim's PATH", hint: 'apt-get install --no-install-recommends qemu-system-arm' },
    which('micad-sim', env)
      ? { name: 'micad-sim binary', status: 'ok', detail: which('micad-sim', env)! }
      : { name: 'micad-sim binary', status: 'warn', detail: 'micad-sim is not on this PATH', hint: 'npm install -g micrun puts it there' },
  ];
}

/** PID of the process holding the listening unix socket bound at `socketPath` (root sees all). */
function socketOwner(socketPath: string): number | undefined {
  let inode: string | undefined;
  try {
    for (const line of readFileSync('/proc/net/unix', 'utf8').split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[7] === socketPath && fields[3] === '00010000') inode = fields[6]; // flags: __SO_ACCEPTCON (listening)
    }
  } catch {
    return undefined;
  }
  if (!inode) return undefined;
  const want = `socket:[${inode}]`;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (readlinkSync(`/proc/${pid}/fd/${fd}`) === want) return Number(pid);
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
