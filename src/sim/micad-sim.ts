// The daemon: micad's sockets and instance registry. Unlike micad (which clears its own fixed
// /run/mica) it takes any directory, so it never wipes one: at start it refuses a directory where
// a live micad answers, removes only stale micad sockets nobody listens on, and at shutdown
// removes only the sockets it made (and the directory, if it made it and it is empty). Like
// micad it takes one binary create_msg per connection on
// mica-create.socket and one text command per connection on <name>.socket, replies, closes.
// Unlike micad's single thread, a slow `start` of one instance never delays another's requests.

import { access, mkdir, open, rm, rmdir } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { isCodedError } from '../errors';
import {
  CREATE_MSG_SIZE,
  CREATE_SOCKET_NAME,
  formatReply,
  instanceSocketName,
  MAX_NAME_BYTES,
} from '../mica/wire';
import { commandText, handleCommand } from './command-handler';
import { decodeCreateMessage, type DecodedCreateMessage } from './create-message';
import { detectMachine } from './elf-machine';
import { Instance } from './instance';
import { claimSocketDir } from './socket-dir';

export interface MicadSimOptions {
  socketDir: string;
  /** Private sockets of the QEMU processes live under here. */
  stateDir: string;
  qemuPath: string;
  /** Forces the QEMU machine; otherwise chosen from each firmware's ELF header. */
  machine?: string;
  log(line: string): void;
}

/** A client that connects and sends nothing is dropped after this long. */
const IDLE_TIMEOUT_MS = 10_000;
/** A create_msg shorter than 1772 bytes is taken as complete when no byte follows for this long
 * (micad takes whatever one recv() returns; mica.py's sendall may arrive in pieces). */
const CREATE_SETTLE_MS = 50;
/** Firmware files larger than this are refused rather than read whole. */
const MAX_FIRMWARE_BYTES = 256 * 1024 * 1024;

interface Registered {
  instance: Instance;
  server: Server;
}

export class MicadSim {
  private readonly instances = new Map<string, Registered>();
  private readonly reserved = new Set<string>();
  private createServer: Server | undefined;
  private nextPrivateDir = 0;
  private madeSocketDir = false;

  constructor(private readonly o: MicadSimOptions) {}

  async start(): Promise<void> {
    const claim = await claimSocketDir(this.o.socketDir);
    this.madeSocketDir = claim.made;
    for (const stale of claim.removedStale) this.o.log(`removed stale socket ${stale}`);
    await mkdir(this.o.stateDir, { recursive: true, mode: 0o700 });
    this.createServer = await listen(join(this.o.socketDir, CREATE_SOCKET_NAME), (socket) =>
      this.onCreateConnection(socket),
    );
  }

  /** Stops every QEMU (by PID), removes every socket. Idempotent. */
  async shutdown(): Promise<void> {
    const listening = this.createServer !== undefined;
    this.createServer?.close();
    this.createServer = undefined;
    const all = [...this.instances.values()];
    this.instances.clear();
    await Promise.all(
      all.map(async ({ instance, server }) => {
        server.close();
        await instance.serialize(() => instance.remove()).catch((err) => this.o.log(`${instance.name}: ${String(err)}`));
      }),
    );
    // Only what start() and create() made: each instance socket went with its server above
    // (a unix socket server unlinks its path on close); then the create socket and, if we made
    // the directory and nothing else lives in it, the directory.
    if (listening) await rm(join(this.o.socketDir, CREATE_SOCKET_NAME), { force: true });
    if (this.madeSocketDir) await rmdir(this.o.socketDir).catch(() => undefined);
  }

  get instanceCount(): number {
    return this.instances.size;
  }

  private onCreateConnection(socket: Socket): void {
    let chunks: Buffer[] = [];
    let length = 0;
    let settle: NodeJS.Timeout | undefined;
    let handled = false;
    const finish = () => {
      if (handled) return;
      handled = true;
      clearTimeout(settle);
      const bytes = Buffer.concat(chunks, length).subarray(0, CREATE_MSG_SIZE);
      chunks = [];
      void this.create(bytes).then((reply) => socket.end(reply));
    };
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (handled) return;
      chunks.push(chunk);
      length += chunk.length;
      clearTimeout(settle);
      if (length >= CREATE_MSG_SIZE) finish();
      else settle = setTimeout(finish, CREATE_SETTLE_MS);
    });
    socket.on('end', () => {
      if (length > 0) finish();
      else socket.end();
    });
  }

  /** The create request: micad's checks (name unique, firmware exists), then ours. */
  private async create(bytes: Buffer): Promise<string> {
    let msg: DecodedCreateMessage;
    try {
      msg = decodeCreateMessage(bytes);
    } catch (err) {
      return formatReply(false, isCodedError(err) ? err.message : String(err));
    }
    const name = msg.name;
    const bad = invalidName(name);
    if (bad) return formatReply(false, bad);
    if (this.instances.has(name) || this.reserved.has(name)) {
      return formatReply(false, `${name} is already created`);
    }
    this.reserved.add(name);
    try {
      try {
        await access(msg.firmwarePath);
      } catch {
        return formatReply(false, `No such file: ${msg.firmwarePath}`);
      }
      const machine = await this.chooseMachine(msg.firmwarePath);
      if (!machine.ok) return formatReply(false, `Cannot run ${msg.firmwarePath}: ${machine.reason}`);
      const privateDir = join(this.o.stateDir, `i${this.nextPrivateDir++}`);
      const instance = new Instance(name, msg, {
        qemuPath: this.o.qemuPath,
        machine: machine.machine,
        privateDir,
        log: this.o.log,
      });
      const server = await listen(join(this.o.socketDir, instanceSocketName(name)), (socket) =>
        this.onCommandConnection(name, socket),
      );
      this.instances.set(name, { instance, server });
      this.o.log(`${name}: created (${msg.firmwarePath} on ${machine.machine})`);
      return formatReply(true);
    } catch (err) {
      return formatReply(false, err instanceof Error ? err.message : String(err));
    } finally {
      this.reserved.delete(name);
    }
  }

  private async chooseMachine(
    path: string,
  ): Promise<{ ok: true; machine: string } | { ok: false; reason: string }> {
    const file = await open(path, 'r');
    try {
      const { size } = await file.stat();
      if (size > MAX_FIRMWARE_BYTES) return { ok: false, reason: `larger than ${MAX_FIRMWARE_BYTES} bytes` };
      const detected = detectMachine(await file.readFile());
      // --machine overrides the choice, not the check that this is 32-bit ARM firmware.
      if (this.o.machine && (detected.ok || /not Cortex-M|without build attributes/.test(detected.reason))) {
        return { ok: true, machine: this.o.machine };
      }
      return detected;
    } finally {
      await file.close();
    }
  }

  private onCommandConnection(name: string, socket: Socket): void {
    let handled = false;
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      if (handled) return;
      handled = true; // micad: one recv(), one command
      void this.command(name, commandText(chunk)).then((reply) => socket.end(reply));
    });
    socket.on('end', () => {
      if (!handled) socket.end();
    });
  }

  private async command(name: string, msg: string): Promise<string> {
    const registered = this.instances.get(name);
    if (!registered) return formatReply(false, `${name} does not exist`);
    const outcome = await handleCommand(registered.instance, msg);
    if (outcome.removed && this.instances.get(name) === registered) {
      // Unregister before replying: once a client reads MICA-SUCCESS the socket is gone.
      this.instances.delete(name);
      registered.server.close();
      await rm(join(this.o.socketDir, instanceSocketName(name)), { force: true });
      this.o.log(`${name}: removed`);
    }
    return outcome.reply;
  }
}

/** Names become file names: refuse what would escape the socket directory or clash with it. */
function invalidName(name: string): string | undefined {
  if (name === '') return 'Invalid name: empty';
  if (Buffer.byteLength(name) > MAX_NAME_BYTES) return `Invalid name: longer than ${MAX_NAME_BYTES} bytes`;
  if (name.includes('/') || name === '.' || name === '..') return `Invalid name: ${name} (no "/", ".", "..")`;
  if (instanceSocketName(name) === CREATE_SOCKET_NAME) return `Invalid name: ${name} is reserved`;
  return undefined;
}

function listen(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  const server = createServer(onConnection);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ path, backlog: 128 }, () => {
      server.removeListener('error', reject);
      resolve(server);
    });
  });
}
