// Starts the BUILT micad-sim (dist/micad-sim.js: run `npm run build` first) for a test, on a
// private socket dir, and stops it by PID. Shared by the micad-sim, shim and e2e tests: keep
// the API stable.
import { spawn } from 'node:child_process';
import { constants, existsSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ReadStream } from 'node:tty';
import { setRawMode } from '../../../src/mica/pty';
import { isAlive } from './processes';

const repoRoot = path.resolve(__dirname, '../../..');
export const micadSimBinary = path.join(repoRoot, 'dist', 'micad-sim.js');
export const firmwareBuildDir = path.join(repoRoot, 'test', 'fixtures', 'firmware', 'build');

/** The line micad-sim prints on stdout once its sockets listen (src/sim/main.ts). */
const READY = 'micad-sim: ready';

export interface MicadSimOptions {
  /** micad's socket dir; default: a new temp dir (removed by stop()). */
  socketDir?: string;
  /** Private QEMU sockets; default: a new temp dir (removed by stop()). */
  stateDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Extra command-line arguments (e.g. ['--machine', 'mps2-an385']). */
  args?: string[];
  /** The micad-sim to run (default the repository's dist/micad-sim.js), e.g. an installed one. */
  binary?: string;
  /** How long to wait for the ready line (default 10 s). */
  readyTimeoutMs?: number;
}

export interface MicadSim {
  socketDir: string;
  stateDir: string;
  pid: number;
  /** SIGTERM by PID, wait for exit (SIGKILL after 10 s), remove the temp dirs we made. */
  stop(): Promise<void>;
  /** SIGKILL by PID (a crash), wait for exit; temp dirs stay until stop(). */
  kill(): Promise<void>;
  /** stdout + stderr so far. */
  log(): string;
  /** Exit code / signal once it ended (undefined while running). */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

export async function startMicadSim(opts: MicadSimOptions = {}): Promise<MicadSim> {
  const binary = opts.binary ?? micadSimBinary;
  if (!existsSync(binary)) {
    throw new Error(`${binary} is missing: run \`npm run build\` first`);
  }
  const madeTemp: string[] = [];
  const temp = (prefix: string) => {
    const dir = mkdtempSync(path.join(tmpdir(), prefix));
    madeTemp.push(dir);
    return dir;
  };
  // Short paths: unix socket paths are limited to 107 bytes.
  const socketDir = opts.socketDir ?? path.join(temp('msim-'), 'mica');
  const stateDir = opts.stateDir ?? temp('msim-state-');
  const child = spawn(
    process.execPath,
    [binary, '--socket-dir', socketDir, '--state-dir', stateDir, ...(opts.args ?? [])],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve();
    }),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`micad-sim printed no ready line within ${opts.readyTimeoutMs ?? 10_000} ms:\n${output}`)),
      opts.readyTimeoutMs ?? 10_000,
    );
    const onData = (d: Buffer) => {
      output += d.toString();
      if (output.includes(READY)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`micad-sim exited before ready (${JSON.stringify(exit)}):\n${output}`));
    });
  });
  const pid = child.pid!;

  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (exit) return;
    if (isAlive(pid)) process.kill(pid, signal);
    const timer = setTimeout(() => isAlive(pid) && process.kill(pid, 'SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  };

  try {
    await ready;
  } catch (err) {
    await signalAndWait('SIGKILL');
    for (const dir of madeTemp) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  return {
    socketDir,
    stateDir,
    pid,
    async stop() {
      await signalAndWait('SIGTERM');
      for (const dir of madeTemp) rmSync(dir, { recursive: true, force: true });
    },
    kill: () => signalAndWait('SIGKILL'),
    log: () => output,
    exit: () => exit,
  };
}

/** Absolute path of test/fixtures/firmware/build/<name>.elf; throws if it was not built. */
export function firmwarePath(name: string): string {
  const file = path.join(firmwareBuildDir, `${name}.elf`);
  if (!existsSync(file)) {
    throw new Error(`firmware fixture ${file} is missing: run \`npm run build:firmware\``);
  }
  return file;
}

// ---------------------------------------------------------------------------------------------
// Console: opens an instance's rpmsg-tty pty the way a micad client does: O_RDWR|O_NOCTTY, raw
// mode (set with TCSANOW, so bytes already waiting in the pty are kept).

export interface Console {
  /** Everything read so far. */
  text(): string;
  /** Resolves with text() once `pattern` appears; rejects after `timeoutMs`. */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  write(data: string): void;
  close(): void;
}

export function openConsole(ttyPath: string): Console {
  const fd = openSync(ttyPath, constants.O_RDWR | constants.O_NOCTTY);
  setRawMode(fd);
  const stream = new ReadStream(fd);
  let buffer = '';
  const waiters = new Set<() => void>();
  stream.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    for (const w of waiters) w();
  });
  stream.on('error', () => {});
  const matches = (p: string | RegExp) => (typeof p === 'string' ? buffer.includes(p) : p.test(buffer));
  return {
    text: () => buffer,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!matches(pattern)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(buffer);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`console ${ttyPath}: no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(buffer)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    write: (data) => void stream.write(data),
    close: () => stream.destroy(),
  };
}
