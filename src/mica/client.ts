// The real MicaClient: micad's control protocol through the libmica addon (native/), whose
// calls run on the libuv pool and return Promises. This module turns micad's answers and the
// transport's errno codes into CodedErrors a user can act on; it holds no state besides the
// socket directory, so one client may serve any number of concurrent calls.

import { statSync } from 'node:fs';
import { join } from 'node:path';
import {
  alreadyExists,
  Code,
  CodedError,
  deadlineExceeded,
  failedPrecondition,
  internal,
  invalidArgument,
  notFound,
  unavailable,
  unimplemented,
} from '../errors';
import { loadAddon, type LibmicaAddon, type NativeError, type NativeReply } from './addon';
import { CallLimiter } from './call-limiter';
import { parseInfo } from './info';
import { parseStatus } from './status';
import { RESOURCE_KEYS, type CallOptions, type CreateParams, type MicaClient, type ResourceKey } from './types';
import {
  CREATE_SOCKET_NAME,
  INVALID_COMMAND_TEXT,
  instanceSocketName,
  MAX_COMMAND_BYTES,
  SIM_EXTENSION_COMMANDS,
} from './wire';

export const DEFAULT_TIMEOUT_MS = 5000;


export interface MicaClientOptions {
  /** micad's socket directory (micad: /run/mica). */
  socketDir: string;
  /** Default for calls without their own timeout; covers queueing + connect + write + read. */
  timeoutMs?: number;
  /** Calls waiting on micad at once (default: half the libuv pool); the rest queue. */
  maxInFlight?: number;
}

type SimCommand = (typeof SIM_EXTENSION_COMMANDS)[number];

export function createMicaClient(options: MicaClientOptions): MicaClient {
  const { socketDir } = options;
  const defaultTimeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const addon: LibmicaAddon = loadAddon();
  const createSocket = join(socketDir, CREATE_SOCKET_NAME);
  const timeoutOf = (opts?: CallOptions) => opts?.timeoutMs ?? defaultTimeout;
  const limiter =
    options.maxInFlight === undefined
      ? CallLimiter.forThreadPool()
      : new CallLimiter(options.maxInFlight);

  /** Sends one text command; resolves with micad's text on MICA-SUCCESS. */
  async function command(name: string, cmd: string, opts?: CallOptions): Promise<string> {
    checkName(name);
    if (Buffer.byteLength(cmd) > MAX_COMMAND_BYTES) {
      throw invalidArgument(
        `micad command "${cmd}" for ${name} is ${Buffer.byteLength(cmd)} bytes; micad reads ` +
          `at most ${MAX_COMMAND_BYTES} and would act on a truncated command`,
      );
    }
    let reply: NativeReply;
    try {
      reply = await limiter.run(timeoutOf(opts), `${cmd} ${name}`, (ms) =>
        addon.command(socketDir, name, cmd, ms),
      );
    } catch (err) {
      throw transportError(err, `${cmd} ${name}`, createSocket);
    }
    if (reply.ok) return reply.text;
    throw commandFailed(name, cmd, reply.text);
  }

  const simCommand = async (name: string, cmd: SimCommand, opts?: CallOptions) => {
    try {
      return await command(name, cmd, opts);
    } catch (err) {
      // A real micad knows no pause/resume/info: it answers "Invalid command: <cmd>".
      if (err instanceof CodedError && err.message.includes(INVALID_COMMAND_TEXT)) {
        throw unimplemented(
          `${cmd} of ${name} needs micad-sim; real micad has no ${cmd} command`,
          err,
        );
      }
      throw err;
    }
  };

  return {
    async create(params: CreateParams, opts?: CallOptions): Promise<void> {
      checkName(params.name);
      let reply: NativeReply;
      try {
        reply = await limiter.run(timeoutOf(opts), `create ${params.name}`, (ms) =>
          addon.create(socketDir, params, ms),
        );
      } catch (err) {
        throw transportError(err, `create ${params.name}`, createSocket);
      }
      if (!reply.ok) throw createFailed(params, reply.text);
    },
    async start(name, opts) {
      await command(name, 'start', opts);
    },
    async stop(name, opts) {
      await command(name, 'stop', opts);
    },
    async remove(name, opts) {
      await command(name, 'rm', opts);
    },
    async status(name, opts) {
      return parseStatus(await command(name, 'status', opts));
    },
    async set(name: string, key: ResourceKey, value: string | number, opts?: CallOptions) {
      if (!(RESOURCE_KEYS as readonly string[]).includes(key)) {
        throw invalidArgument(`micad has no resource "${key}" (known: ${RESOURCE_KEYS.join(', ')})`);
      }
      const text = String(value);
      // micad splits on single spaces and wants exactly three tokens.
      if (text.length === 0 || /\s/.test(text)) {
        throw invalidArgument(`set ${key} of ${name}: value "${text}" must be one word`);
      }
      await command(name, `set ${key} ${text}`, opts);
    },
    async pause(name, opts) {
      await simCommand(name, 'pause', opts);
    },
    async resume(name, opts) {
      await simCommand(name, 'resume', opts);
    },
    async info(name, opts) {
      return parseInfo(name, await simCommand(name, 'info', opts));
    },
    exists(name: string): boolean {
      if (name.length === 0 || name.includes('/')) return false;
      try {
        return statSync(join(socketDir, instanceSocketName(name))).isSocket();
      } catch {
        return false;
      }
    },
  };
}

function checkName(name: string): void {
  if (name.length === 0 || name.includes('/') || name.includes('\0')) {
    throw invalidArgument(`invalid micad instance name "${name}"`);
  }
}

function createFailed(params: CreateParams, text: string): CodedError {
  const why = text || 'no reason given (see `journalctl -u micad`)';
  if (text.endsWith('is already created')) {
    return alreadyExists(`micad instance ${params.name} already exists: ${text}`);
  }
  if (text.startsWith('No such file')) {
    return notFound(`micad cannot create ${params.name}: firmware not found (${text})`);
  }
  return failedPrecondition(`micad refused to create ${params.name}: ${why}`);
}

function commandFailed(name: string, cmd: string, text: string): CodedError {
  const why = text || 'no reason given (see `journalctl -u micad`)';
  return failedPrecondition(`micad ${cmd} ${name} failed: ${why}`);
}

/** Maps a native transport error (errno name in `code`) to a CodedError. */
function transportError(err: unknown, what: string, createSocket: string): CodedError {
  if (err instanceof CodedError) return err; // the limiter's own deadline
  const e = err as Partial<NativeError>;
  const message = `micad ${what}: ${e.message ?? String(err)}`;
  switch (e.code) {
    case 'ENOENT':
      // A missing instance socket means no such instance while micad runs, else micad is down.
      if (what.startsWith('create ')) return unavailable(message, err);
      if (isSocket(createSocket)) return notFound(message, err);
      return unavailable(`micad ${what}: micad is not running (no ${createSocket})`, err);
    case 'ECONNREFUSED':
    case 'EPROTO':
    case 'ECONNRESET':
    case 'EPIPE':
      return unavailable(message, err);
    case 'EACCES':
      return new CodedError(Code.PermissionDenied, message, { cause: err });
    case 'ETIMEDOUT':
      return deadlineExceeded(message, err);
    case 'EINVAL':
    case 'ENAMETOOLONG':
      return invalidArgument(message, err);
    default:
      return internal(message, err);
  }
}

function isSocket(path: string): boolean {
  try {
    return statSync(path).isSocket();
  } catch {
    return false;
  }
}
