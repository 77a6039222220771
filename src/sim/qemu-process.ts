// The QEMU pedestal: one qemu-system-arm process per running instance. Builds the command line,
// starts QEMU, waits until it is up (QMP answers), and reports how it ended. Stopping is by PID
// (QMP `quit`, then SIGKILL), never by name.
//
// No byte is written to the terminal: stdin is /dev/null, the serial port is our console
// socket, the monitor is off, stdout/stderr are captured (stderr goes to the daemon's log).
// No network: `-nic none`. When `setpriv` is available QEMU runs with a parent-death signal, so
// even a SIGKILLed micad-sim leaves no emulator behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { internal, unavailable } from '../errors';
import { QmpClient, type QmpListener } from './qmp-client';

export interface QemuLaunchOptions {
  qemuPath: string;
  machine: string;
  firmwarePath: string;
  /** Unix socket the serial chardev connects to (the console bridge listens there). */
  consoleSocket: string;
  /** Unix socket QEMU connects its QMP monitor to (we listen; private to this instance). */
  qmpSocket: string;
  log(line: string): void;
  /** How long QEMU may take to connect its QMP monitor after spawn. */
  startTimeoutMs?: number;
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const SETPRIV = '/usr/bin/setpriv';
/** Checked once (at load, before serving), not on every start. */
const HAS_SETPRIV = existsSync(SETPRIV);

/** The QEMU argv for one instance (exported for tests and docs). */
export function qemuArgs(o: Pick<QemuLaunchOptions, 'machine' | 'firmwarePath' | 'consoleSocket' | 'qmpSocket'>): string[] {
  return [
    '-M', o.machine,
    '-S', // the guest starts only on QMP `cont`: see launch()
    '-nographic',
    '-monitor', 'none',
    '-nic', 'none',
    '-kernel', o.firmwarePath,
    '-chardev', `socket,id=console,path=${o.consoleSocket}`,
    '-serial', 'chardev:console',
    '-chardev', `socket,id=qmp,path=${o.qmpSocket}`,
    '-mon', 'chardev=qmp,mode=control',
    '-semihosting-config', 'enable=on,target=native',
  ];
}

export class QemuProcess {
  /** Settles when the process has exited (never rejects). */
  readonly exited: Promise<QemuExit>;
  private exit: QemuExit | undefined;

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
    private qmp: QmpClient | undefined,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        this.qmp?.close();
        resolve(this.exit);
      });
    });
  }

  /**
   * Starts QEMU frozen (-S), waits until its QMP monitor connects and answers, then lets the guest
   * run. On failure QEMU is killed and the error says why.
   */
  static async launch(o: QemuLaunchOptions): Promise<QemuProcess> {
    const qmpListener = await QmpClient.listen(o.qmpSocket);
    try {
      return await QemuProcess.spawnAndRun(o, qmpListener);
    } finally {
      qmpListener.close();
    }
  }

  private static async spawnAndRun(o: QemuLaunchOptions, qmpListener: QmpListener): Promise<QemuProcess> {
    const args = qemuArgs(o);
    const [command, argv] = HAS_SETPRIV
      ? [SETPRIV, ['--pdeathsig', 'KILL', '--', o.qemuPath, ...args]]
      : [o.qemuPath, args];
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let partial = '';
    const onOutput = (chunk: Buffer) => {
      const text = chunk.toString();
      stderr = (stderr + text).slice(-4096);
      const lines = (partial + text).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) o.log(`qemu[${child.pid}]: ${line.trim()}`);
    };
    child.stdout!.on('data', onOutput);
    child.stderr!.on('data', onOutput);
    const spawned = await new Promise<Error | undefined>((resolve) => {
      child.once('spawn', () => resolve(undefined));
      child.once('error', resolve);
    });
    if (spawned || child.pid === undefined) {
      throw unavailable(`cannot run ${o.qemuPath}: ${spawned?.message ?? 'no pid'}`, spawned);
    }
    const proc = new QemuProcess(child, child.pid, undefined);
    const died = proc.exited.then((e) => {
      throw internal(
        `QEMU exited during start-up (code ${e.code}, signal ${e.signal}): ${stderr.trim() || 'no output'}`,
      );
    });
    try {
      proc.qmp = await Promise.race([qmpListener.accept(o.startTimeoutMs ?? 10_000), died]);
    } catch (err) {
      await proc.kill();
      throw err;
    }
    died.catch(() => {}); // settled later, after a successful start
    // Only now let the guest run: an exit from here on is the firmware's (semihosting), never
    // confused with a QEMU start-up failure, however fast the firmware ends.
    try {
      await proc.resume();
    } catch (err) {
      // A firmware that ends at once can take QEMU down before `cont` is answered: the QMP
      // socket closes first, the process exit follows. That is a start followed by an exit.
      const ended = await Promise.race([
        proc.exited,
        new Promise<undefined>((r) => setTimeout(r, 2_000, undefined)),
      ]);
      if (!ended || ended.signal !== null) {
        await proc.kill();
        throw err;
      }
    }
    return proc;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  async pause(): Promise<void> {
    await this.requireQmp().execute('stop');
  }

  async resume(): Promise<void> {
    await this.requireQmp().execute('cont');
  }

  /** Makes QEMU's main loop run one iteration (see main-loop-waker.ts); fire and forget. */
  wakeMainLoop(): void {
    if (!this.qmp || this.exit) return;
    this.qmp.execute('query-status').catch(() => undefined);
  }

  /** Ends QEMU: SIGTERM (QEMU exits promptly and cleanly), SIGKILL after `graceMs`. */
  async kill(graceMs = 2_000): Promise<QemuExit> {
    if (this.exit) return this.exit;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }

  private requireQmp(): QmpClient {
    if (!this.qmp || this.exit) throw unavailable(`QEMU (pid ${this.pid}) is not running`);
    return this.qmp;
  }
}
