// ttrpc server: unary calls only (no shim RPC streams). Many calls run at once on one connection
// and reply in completion order. Each call gets an AbortSignal that fires when the request's
// timeout_nano elapses or the connection closes — ttrpc has no cancel frame, so these are the
// only two ways a long handler (Task.Wait) learns nobody is listening any more.
//
// Robustness rule: nothing a peer sends can throw out of a socket handler or hang the server.
// Protocol errors are answered on the offending stream (as containerd/ttrpc does); bytes that
// cannot be attributed to a stream close that one connection only.
import net from 'node:net';
import { ttrpc } from '../proto';
import { Code, CodedError } from '../errors';
import { encodeFrame, FrameDecoder, FrameType, HEADER_LENGTH, MAX_DATA_LENGTH, type Frame } from './frame';
import { metadataFromPairs, type Metadata } from './metadata';
import { toStatus } from './status';

export interface CallContext {
  service: string;
  method: string;
  metadata: Metadata;
  /** Fires on the request's timeout (DeadlineExceeded) or when the connection closes (Cancelled). */
  signal: AbortSignal;
  /** Epoch ms derived from timeout_nano, when the caller set one. */
  deadline?: number;
}

export type Handler = (payload: Uint8Array, ctx: CallContext) => Promise<Uint8Array>;
export type Interceptor = (ctx: CallContext, payload: Uint8Array, next: () => Promise<Uint8Array>) => Promise<Uint8Array>;

export interface TtrpcServerOptions {
  /** Called for failures nobody else sees: Unknown-coded handler errors, socket and protocol faults. */
  onError?: (err: unknown, ctx?: CallContext) => void;
  /**
   * Calls one connection may have in flight; more are refused with ResourceExhausted. containerd
   * keeps one long Wait per task on its connection, so this bounds a pod's size per connection,
   * not its rate. Default 1024.
   */
  maxConcurrentCalls?: number;
  /** Called when a client's connection has closed, with how many remain open. */
  onDisconnect?: (remaining: number) => void;
}

const DEFAULT_GRACE_MS = 5_000;
const DEFAULT_MAX_CONCURRENT_CALLS = 1024;
/** setTimeout's largest delay; a longer one fires at once (Node clamps it to 1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class TtrpcServer {
  private readonly services = new Map<string, Map<string, Handler>>();
  private readonly interceptors: Interceptor[] = [];
  private readonly listeners: net.Server[] = [];
  private readonly connections = new Set<ServerConnection>();
  private closing = false;
  private readonly reportError: (err: unknown, ctx?: CallContext) => void;
  private readonly onDisconnect: (remaining: number) => void;
  /** @internal read by each connection */
  readonly maxConcurrentCalls: number;

  constructor(opts: TtrpcServerOptions = {}) {
    this.reportError = opts.onError ?? (() => {});
    this.onDisconnect = opts.onDisconnect ?? (() => {});
    this.maxConcurrentCalls = opts.maxConcurrentCalls ?? DEFAULT_MAX_CONCURRENT_CALLS;
  }

  /** @internal Reports to the caller's onError; a throwing callback must not break serving. */
  onError(err: unknown, ctx?: CallContext): void {
    try {
      this.reportError(err, ctx);
    } catch {
      // nothing sensible left to do with an error about an error
    }
  }

  /** Adds (or replaces) the methods of `serviceName`, e.g. `containerd.task.v2.Task`. */
  register(serviceName: string, methods: Record<string, Handler>): void {
    const table = this.services.get(serviceName) ?? new Map<string, Handler>();
    for (const [name, handler] of Object.entries(methods)) table.set(name, handler);
    this.services.set(serviceName, table);
  }

  /** Wraps every call; the first interceptor registered is the outermost. */
  use(interceptor: Interceptor): void {
    this.interceptors.push(interceptor);
  }

  /** Listens on a unix socket path. The caller prepares the path (nothing is unlinked here). */
  listen(socketPath: string): Promise<void> {
    const server = net.createServer();
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        this.adopt(server);
        resolve();
      });
    });
  }

  /** Serves an existing listener: a listening net.Server, or an inherited listening fd. */
  async listenHandle(handle: net.Server | { fd: number }): Promise<void> {
    if (handle instanceof net.Server) {
      this.adopt(handle);
      return;
    }
    const server = net.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(handle, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.adopt(server);
  }

  /**
   * Stops accepting, lets in-flight calls finish for up to `graceMs`, then closes every
   * connection (aborting what is left). Idle connections are closed at once.
   */
  async close(graceMs = DEFAULT_GRACE_MS): Promise<void> {
    this.closing = true;
    const closed = this.listeners.map((l) => new Promise<void>((resolve) => l.close(() => resolve())));
    for (const conn of this.connections) conn.drain();
    const drained = Promise.all([...this.connections].map((c) => c.closed));
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([drained, grace]);
    clearTimeout(timer);
    for (const conn of this.connections) conn.destroy();
    await Promise.all([...closed, drained]);
  }

  /** @internal Looks up a method; undefined result means "answer Unimplemented". */
  resolve(service: string, method: string): Handler | CodedError {
    const table = this.services.get(service);
    if (!table) return new CodedError(Code.Unimplemented, `service ${service}`);
    return table.get(method) ?? new CodedError(Code.Unimplemented, `method ${method}`);
  }

  /** @internal Runs the interceptor chain around `handler`. */
  invoke(handler: Handler, payload: Uint8Array, ctx: CallContext): Promise<Uint8Array> {
    const chain = this.interceptors;
    if (chain.length === 0) return handler(payload, ctx);
    const step = (i: number): Promise<Uint8Array> =>
      i === chain.length ? handler(payload, ctx) : chain[i]!(ctx, payload, () => step(i + 1));
    return step(0);
  }

  get isClosing(): boolean {
    return this.closing;
  }

  private adopt(server: net.Server): void {
    this.listeners.push(server);
    server.on('connection', (socket) => {
      if (this.closing) {
        socket.destroy();
        return;
      }
      const conn = new ServerConnection(this, socket);
      this.connections.add(conn);
      void conn.closed.then(() => {
        this.connections.delete(conn);
        this.onDisconnect(this.connections.size);
      });
    });
    server.on('error', (err) => this.onError(err));
  }
}

interface ActiveCall {
  controller: AbortController;
  timer: NodeJS.Timeout | undefined;
  /** Set once a reply went out (or the call was refused), so a late handler result is dropped. */
  answered: boolean;
}

const EMPTY = new Uint8Array(0);

/**
 * The hot path: a success reply is `Response{payload}` with no status (as the Go server sends),
 * i.e. tag 0x12, varint length, payload — written straight into the frame buffer, one allocation.
 */
function successFrame(id: number, payload: Uint8Array): Buffer {
  if (payload.length === 0) return encodeFrame(id, FrameType.Response, 0, EMPTY);
  let varintLen = 1;
  for (let n = payload.length; n >= 0x80; n >>>= 7) varintLen++;
  const dataLen = 1 + varintLen + payload.length;
  if (dataLen > MAX_DATA_LENGTH) {
    throw new RangeError(`ttrpc: reply length ${dataLen} exceeds maximum message size of ${MAX_DATA_LENGTH}`);
  }
  const buf = Buffer.allocUnsafe(HEADER_LENGTH + dataLen);
  buf.writeUInt32BE(dataLen, 0);
  buf.writeUInt32BE(id, 4);
  buf[8] = FrameType.Response;
  buf[9] = 0;
  let off = HEADER_LENGTH;
  buf[off++] = 0x12; // field 2 (payload), wire type 2
  let n = payload.length;
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[off++] = n;
  buf.set(payload, off);
  return buf;
}

/** One client connection: frame decoding, stream-id rules, the calls in flight. */
class ServerConnection {
  private readonly decoder = new FrameDecoder();
  private readonly active = new Map<number, ActiveCall>();
  private lastStreamId = 0;
  private draining = false;
  /** Reading is paused until the socket drains (see writeFrame). */
  private paused = false;
  readonly closed: Promise<void>;

  constructor(
    private readonly server: TtrpcServer,
    private readonly socket: net.Socket,
  ) {
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') server.onError(err);
    });
    socket.once('close', () => this.abortAll());
  }

  /** Finish what is in flight, then close; new requests are refused. */
  drain(): void {
    this.draining = true;
    if (this.active.size === 0) this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    try {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
    } catch (err) {
      // A bug here must not take the process down: drop this connection, keep serving others.
      this.server.onError(err);
      this.socket.destroy();
    }
  }

  private onFrame(frame: Frame): void {
    const id = frame.streamId;
    if (frame.oversize !== undefined) {
      this.refuse(id, Code.ResourceExhausted, `message length ${frame.oversize} exceed maximum message size of ${MAX_DATA_LENGTH}`);
      return;
    }
    if (frame.type === FrameType.Data) {
      // Unary calls never carry data; if it names a live call, that call is broken: fail it.
      const call = this.active.get(id);
      if (call && !call.answered) {
        call.answered = true;
        call.controller.abort(new CodedError(Code.InvalidArgument, 'data frame on a unary call'));
        this.reply(id, Code.InvalidArgument, 'data frames are not supported: all methods are unary');
      } else if (!call) {
        this.refuse(id, Code.InvalidArgument, 'StreamID is no longer active');
      }
      return;
    }
    if (frame.type !== FrameType.Request) {
      this.refuse(id, Code.InvalidArgument, `unexpected message type ${frame.type}`);
      return;
    }
    if (id % 2 === 0) {
      this.refuse(id, Code.InvalidArgument, 'StreamID must be odd for client initiated streams');
      return;
    }
    if (id <= this.lastStreamId) {
      this.refuse(id, Code.InvalidArgument, 'StreamID cannot be re-used and must increment');
      return;
    }
    this.lastStreamId = id;
    if (frame.flags !== 0) {
      this.refuse(id, Code.Unimplemented, 'streaming calls are not supported: all methods are unary');
      return;
    }
    if (this.draining) {
      this.refuse(id, Code.Unavailable, 'ttrpc: server is shutting down');
      return;
    }
    if (this.active.size >= this.server.maxConcurrentCalls) {
      this.refuse(id, Code.ResourceExhausted, `ttrpc: more than ${this.server.maxConcurrentCalls} calls in flight on this connection`);
      return;
    }
    let req: ttrpc.Request;
    try {
      req = ttrpc.Request.decode(frame.data);
    } catch (err) {
      this.refuse(id, Code.InvalidArgument, `malformed request: ${(err as Error).message}`);
      return;
    }
    this.dispatch(id, req);
  }

  private dispatch(id: number, req: ttrpc.Request): void {
    const target = this.server.resolve(req.service, req.method);
    if (target instanceof CodedError) {
      this.refuse(id, target.code, target.message);
      return;
    }
    const controller = new AbortController();
    const call: ActiveCall = { controller, timer: undefined, answered: false };
    const ctx: CallContext = {
      service: req.service,
      method: req.method,
      metadata: metadataFromPairs(req.metadata),
      signal: controller.signal,
    };
    const timeoutNs = Number(req.timeoutNano);
    if (timeoutNs > 0) {
      const ms = Math.max(1, Math.ceil(timeoutNs / 1e6));
      ctx.deadline = Date.now() + ms;
      // A deadline beyond setTimeout's range (~24.8 days) is as good as none: no timer, rather
      // than one Node would fire at once.
      if (ms <= MAX_TIMER_MS) {
        call.timer = setTimeout(
          () => controller.abort(new CodedError(Code.DeadlineExceeded, `${req.service}/${req.method}: deadline exceeded`)),
          ms,
        );
      }
    }
    this.active.set(id, call);
    let result: Promise<Uint8Array>;
    try {
      result = this.server.invoke(target, req.payload ?? EMPTY, ctx);
    } catch (err) {
      result = Promise.reject(err);
    }
    result.then(
      (payload) => this.finish(id, call, () => this.writeFrame(successFrame(id, payload))),
      (err: unknown) =>
        this.finish(id, call, () => {
          const status = toStatus(err, controller.signal);
          if (status.code === Code.Unknown) this.server.onError(err, ctx);
          this.reply(id, status.code, status.message);
        }),
    );
  }

  private finish(id: number, call: ActiveCall, send: () => void): void {
    clearTimeout(call.timer);
    this.active.delete(id);
    if (!call.answered) {
      call.answered = true;
      try {
        send();
      } catch (err) {
        // e.g. a reply over 4 MiB: the caller still gets an answer instead of waiting forever.
        this.server.onError(err);
        this.reply(id, Code.ResourceExhausted, (err as Error).message);
      }
    }
    if (this.draining && this.active.size === 0) this.socket.end();
  }

  /** Answers a stream that never became an active call. */
  private refuse(id: number, code: Code, message: string): void {
    this.reply(id, code, message);
  }

  private reply(id: number, code: Code, message: string): void {
    this.writeResponse(id, ttrpc.Response.encode({ status: { code, message } }).finish());
  }

  private writeResponse(id: number, body: Uint8Array): void {
    this.writeFrame(encodeFrame(id, FrameType.Response, 0, body));
  }

  /**
   * Backpressure: while the peer does not read our replies, we stop reading its requests, so a
   * client that only sends cannot make the server queue replies without bound.
   */
  private writeFrame(frame: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    if (!this.socket.write(frame) && !this.paused) {
      this.paused = true;
      this.socket.pause();
      this.socket.once('drain', () => {
        this.paused = false;
        this.socket.resume();
      });
    }
  }

  private abortAll(): void {
    for (const call of this.active.values()) {
      clearTimeout(call.timer);
      call.controller.abort(new CodedError(Code.Cancelled, 'ttrpc: connection closed'));
    }
  }
}
