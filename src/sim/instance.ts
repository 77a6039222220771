// One simulated micad instance: its create parameters, its state and, while it runs, its QEMU
// process and console. Commands on one instance run one at a time (a queue), as micad's single
// thread would run them; different instances never wait for each other.
//
// States (micad's names): Offline after create and after stop (as micad reports it), Running
// after start, Suspended while paused (sim extension), Stopped when the firmware ended itself
// (semihosting exit; its code is kept), Error when QEMU died otherwise (signal, crash).
//
// Ordering invariant: the "QEMU ended" path (onQemuEnded) only acts for the QEMU it was
// registered for and only when the end was not requested by stop/rm, so a stop racing with a
// firmware exit cannot turn an intentional Offline into Stopped/Error, or the reverse.

import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition } from '../errors';
import type { InstanceInfo, InstanceState, ResourceKey } from '../mica/types';
import { consoleServiceToken, formatStatusLine } from '../mica/wire';
import { ConsoleBridge } from './console-bridge';
import { MainLoopWaker } from './main-loop-waker';
import type { DecodedCreateMessage } from './create-message';
import { readProcStats } from './proc-stats';
import { QemuProcess, type QemuExit } from './qemu-process';

export interface InstanceDeps {
  qemuPath: string;
  machine: string;
  /** Private directory for this instance's QMP and console sockets (short: sun_path ≤ 107). */
  privateDir: string;
  log(line: string): void;
}

export class Instance {
  private state: InstanceState = 'Offline';
  private readonly resources = new Map<ResourceKey, string | number>();
  private console: ConsoleBridge | undefined;
  private qemu: QemuProcess | undefined;
  private exitCode: number | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private removed = false;

  constructor(
    readonly name: string,
    readonly params: DecodedCreateMessage,
    private readonly deps: InstanceDeps,
  ) {}

  /** Runs `op` after every earlier command on this instance has finished. */
  serialize<T>(op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op, op);
    this.queue = next.catch(() => {});
    return next;
  }

  async start(): Promise<void> {
    if (this.removed) throw failedPrecondition(`${this.name} was removed`);
    if (this.qemu) throw failedPrecondition(`${this.name} is already running (${this.state})`);
    await mkdir(this.deps.privateDir, { recursive: true, mode: 0o700 });
    const consoleSocket = join(this.deps.privateDir, 'console.sock');
    const qmpSocket = join(this.deps.privateDir, 'qmp.sock');
    await Promise.all([rm(consoleSocket, { force: true }), rm(qmpSocket, { force: true })]);

    // The pty outlives stop/start (stable path for clients) and is closed by rm.
    this.console ??= ConsoleBridge.open();
    const { detached } = await this.console.listen(consoleSocket);
    let qemu: QemuProcess;
    try {
      qemu = await QemuProcess.launch({
        qemuPath: this.deps.qemuPath,
        machine: this.deps.machine,
        firmwarePath: this.params.firmwarePath,
        consoleSocket,
        qmpSocket,
        log: this.deps.log,
      });
    } catch (err) {
      this.console.stopListening();
      this.state = 'Error';
      throw err;
    }
    this.qemu = qemu;
    this.wakeOnInput(qemu);
    this.exitCode = undefined;
    this.state = 'Running';
    this.deps.log(`${this.name}: started, qemu pid ${qemu.pid}, console ${this.console.path}`);
    // Both: the process is gone and every byte it wrote reached the pty.
    void Promise.all([qemu.exited, detached]).then(([exit]) => this.onQemuEnded(qemu, exit));
  }

  /** Console input must wake this QEMU's main loop, or a firmware that only polls the UART
   * never gets it (main-loop-waker.ts). The waker lives as long as this QEMU. */
  private wakeOnInput(qemu: QemuProcess): void {
    const waker = new MainLoopWaker(() => qemu.wakeMainLoop());
    if (this.console) this.console.onInputForwarded = () => waker.inputForwarded();
    void qemu.exited.then(() => waker.stop());
  }

  /** Ends QEMU (if any); the instance stays, Offline, like micad's stop. */
  async stop(): Promise<void> {
    const qemu = this.qemu;
    this.qemu = undefined; // from here on, this QEMU's end is intentional
    if (qemu) {
      await qemu.kill();
      this.deps.log(`${this.name}: stopped (qemu pid ${qemu.pid})`);
    }
    this.console?.stopListening();
    this.state = 'Offline';
  }

  /** stop + release everything this instance holds (console pty, private directory). */
  async remove(): Promise<void> {
    this.removed = true;
    await this.stop();
    this.console?.close();
    this.console = undefined;
    await rm(this.deps.privateDir, { recursive: true, force: true });
  }

  async pause(): Promise<void> {
    if (this.state !== 'Running' || !this.qemu) {
      throw failedPrecondition(`${this.name} is ${this.state}, not Running: cannot pause`);
    }
    await this.qemu.pause();
    this.state = 'Suspended';
  }

  async resume(): Promise<void> {
    if (this.state !== 'Suspended' || !this.qemu) {
      throw failedPrecondition(`${this.name} is ${this.state}, not Suspended: cannot resume`);
    }
    await this.qemu.resume();
    this.state = 'Running';
  }

  setResource(key: ResourceKey, value: string | number): void {
    this.resources.set(key, value);
  }

  /** micad's status line: name, cpu_str (a later `set cpu` shows), state, services. */
  statusLine(): string {
    const cpus = String(this.resources.get('cpu') ?? this.params.cpus);
    const services = this.console ? [consoleServiceToken(this.console.path)] : [];
    return formatStatusLine(this.name, cpus, this.state, services);
  }

  async info(): Promise<InstanceInfo & { resources: Record<string, string | number> }> {
    // One consistent snapshot, taken before the await (the state may change meanwhile).
    const qemu = this.qemu;
    const snapshot = {
      state: this.state,
      qemuPid: qemu?.pid,
      console: this.console?.path,
      exitCode: this.exitCode,
      resources: Object.fromEntries(this.resources),
    };
    const stats = qemu ? await readProcStats(qemu.pid) : undefined;
    return { ...snapshot, cpuTimeNs: stats?.cpuTimeNs, memoryBytes: stats?.memoryBytes };
  }

  private onQemuEnded(qemu: QemuProcess, exit: QemuExit): void {
    if (this.qemu !== qemu) return; // stop/rm asked for it: already Offline
    this.qemu = undefined;
    this.console?.stopListening();
    if (exit.signal === null && exit.code !== null) {
      this.state = 'Stopped';
      this.exitCode = exit.code;
      this.deps.log(`${this.name}: firmware exited with code ${exit.code}`);
    } else {
      this.state = 'Error';
      this.deps.log(`${this.name}: qemu pid ${qemu.pid} died (signal ${exit.signal}, code ${exit.code})`);
    }
  }
}
