// Child processes started by e2e tests: spawned with their output captured, stopped by PID
// (never by name), so a test never touches processes it did not start.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; never rejects on a non-zero exit (callers assert on it). */
export function run(
  command: string,
  args: readonly string[],
  opts: SpawnOptions & { input?: string | Buffer; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...opts, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin!.on('error', () => {});
    child.stdin!.end(opts.input ?? '');
  });
}

/** Stops a child we started: SIGTERM, then SIGKILL after `graceMs`. Resolves once it is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * True while a process with this PID runs. A zombie counts as gone: it has exited, and processes
 * that were reparented (shim daemons run in their own session) stay zombies until their new
 * parent reaps them, which on this machine may be never.
 */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false; // gone between the two looks
  }
}

/** Polls `probe` every `intervalMs` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor<T>(
  probe: () => T | Promise<T>,
  { timeoutMs = 10_000, intervalMs = 50, what = 'condition' } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** A child with piped stdio whose stdout + stderr are collected; stdin stays open until endInput(). */
export interface Interactive {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved as they arrived. */
  output(): string;
  write(text: string): void;
  endInput(): void;
  /** Resolves once `text` appears in output(); the error carries the output so far. */
  waitFor(text: string, timeoutMs?: number): Promise<void>;
  /** The exit code (null when ended by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts `command` for a test to talk to (ctr run / ctr task attach, or a pty under `script`).
 * `encoding` applies both ways: latin1 keeps control bytes such as Ctrl-C (0x03) one char each.
 * The caller stops it (stopChild) in afterAll.
 */
export function startInteractive(command: string, args: readonly string[], { encoding = 'utf8' as BufferEncoding } = {}): Interactive {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString(encoding)));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString(encoding)));
  child.stdin!.on('error', () => {});
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    output: () => out,
    write: (text) => void child.stdin!.write(Buffer.from(text, encoding)),
    endInput: () => child.stdin!.end(),
    waitFor: (text, timeoutMs = 20_000) =>
      waitFor(() => out.includes(text), { timeoutMs, what: JSON.stringify(text) }).then(
        () => undefined,
        (err: Error) => {
          throw new Error(`${err.message}; ${command} output so far: ${JSON.stringify(out)}`);
        },
      ),
    exited,
  };
}
