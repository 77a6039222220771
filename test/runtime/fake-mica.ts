// An in-memory micad for unit tests: instances with states, an exit you can trigger, call log.
import { CodedError, Code, notFound, unavailable } from '../../src/errors';
import type { CallOptions, CreateParams, InstanceInfo, InstanceState, InstanceStatus, MicaClient, ResourceKey } from '../../src/mica/types';

interface FakeInstance {
  params: CreateParams;
  state: InstanceState;
  exitCode?: number;
  settings: Record<string, string | number>;
}

export class FakeMica implements MicaClient {
  readonly instances = new Map<string, FakeInstance>();
  readonly calls: string[] = [];
  /** false = behave like a real micad (no pause/resume/info). */
  simulator = true;
  /** Console path reported once running. */
  console = '/dev/pts/fake';
  /** A coded error, as the real client throws: tests that claim a wire code really check one. */
  failCreate?: CodedError;
  /** Fails create AFTER making the instance, as a micad reply lost to a timeout does. */
  failCreateAfterMaking?: CodedError;
  failStop?: CodedError;
  failRemove?: CodedError;
  /** Fails `set` for this key (the calls before it succeed). */
  failSetKey?: ResourceKey;
  inFlight = 0;
  maxInFlight = 0;
  delayMs = 0;

  private async enter(what: string): Promise<void> {
    this.calls.push(what);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    this.inFlight--;
  }

  private get(name: string): FakeInstance {
    const found = this.instances.get(name);
    if (!found) throw unavailable(`micad: no instance ${name}`);
    return found;
  }

  async create(params: CreateParams, _opts?: CallOptions): Promise<void> {
    await this.enter(`create ${params.name}`);
    if (this.failCreate) throw this.failCreate;
    if (this.instances.has(params.name)) throw new CodedError(Code.FailedPrecondition, `${params.name} is already created`);
    this.instances.set(params.name, { params, state: 'Offline', settings: {} });
    if (this.failCreateAfterMaking) throw this.failCreateAfterMaking;
  }
  async start(name: string): Promise<void> {
    await this.enter(`start ${name}`);
    this.get(name).state = 'Running';
  }
  async stop(name: string): Promise<void> {
    await this.enter(`stop ${name}`);
    if (this.failStop) throw this.failStop;
    this.get(name).state = 'Offline';
  }
  async remove(name: string): Promise<void> {
    await this.enter(`rm ${name}`);
    if (this.failRemove) throw this.failRemove;
    this.get(name);
    this.instances.delete(name);
  }
  async status(name: string): Promise<InstanceStatus> {
    await this.enter(`status ${name}`);
    const i = this.get(name);
    const running = i.state === 'Running' || i.state === 'Suspended';
    return { displayName: name, cpus: '', state: i.state, services: [], ...(running ? { console: this.console } : {}) };
  }
  async set(name: string, key: ResourceKey, value: string | number): Promise<void> {
    await this.enter(`set ${name} ${key} ${value}`);
    if (this.failSetKey === key) throw new CodedError(Code.InvalidArgument, `micad: set ${key} ${value} refused`);
    this.get(name).settings[key] = value;
  }
  async pause(name: string): Promise<void> {
    await this.enter(`pause ${name}`);
    if (!this.simulator) throw new CodedError(Code.Unimplemented, 'pause needs micad-sim; real micad has no pause command');
    this.get(name).state = 'Suspended';
  }
  async resume(name: string): Promise<void> {
    await this.enter(`resume ${name}`);
    if (!this.simulator) throw new CodedError(Code.Unimplemented, 'resume needs micad-sim; real micad has no resume command');
    this.get(name).state = 'Running';
  }
  async info(name: string): Promise<InstanceInfo> {
    await this.enter(`info ${name}`);
    if (!this.simulator) throw new CodedError(Code.Unimplemented, 'info needs micad-sim; real micad has no info command');
    const i = this.get(name);
    return { state: i.state, cpuTimeNs: 1234, memoryBytes: 5678, ...(i.exitCode !== undefined ? { exitCode: i.exitCode } : {}) };
  }
  exists(name: string): boolean {
    return this.instances.has(name);
  }

  /** The firmware ends by itself with `code`. */
  finish(name: string, code: number): void {
    const i = this.instances.get(name);
    if (!i) throw notFound(name);
    i.state = 'Stopped';
    i.exitCode = code;
  }
}
