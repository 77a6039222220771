// ttrpc client: unary calls over one unix socket connection. Stream ids are odd and increase
// from 1 (the server rejects anything else); replies may arrive in any order and are matched
// by id. A call ends with its reply, its timeout, its AbortSignal, or the connection closing —
// whichever comes first; a late reply for a forgotten stream is ignored (ttrpc has no cancel frame).
import net from 'node:net';
import { ttrpc } from '../proto';
import { Code } from '../errors';
import { encodeFrame, FrameDecoder, FrameType, MAX_DATA_LENGTH, type Frame } from './frame';
import { pairsFromRecord } from './metadata';
import { fromStatus, TtrpcError } from './status';

export interface ConnectOptions {
  /** How long to wait for the socket to accept (default 10 s). */
  timeoutMs?: number;
}

export interface CallOptions {
  /** Fails the call with DeadlineExceeded after this long and tells the server (timeout_nano). */
  timeoutMs?: number;
  metadata?: Record<string, string | string[]>;
  /** Aborting fails the call with Cancelled; the server is not told (no cancel frame exists). */
  signal?: AbortSignal;
}

interface Pending {
  resolve(payload: Uint8Array): void;
  reject(err: Error): void;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
// Lowest stream id the 32-bit field cannot exceed: past it the connection must be replaced.
const MAX_STREAM_ID = 0xffff_ffff;

export class TtrpcClient {
  private readonly decoder = new FrameDecoder();
  private readonly pending = new Map<number, Pending>();
  private readonly closeCallbacks: Array<(err?: Error) => void> = [];
  private nextStreamId = 1;
  private closedWith: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame);
    });
    socket.on('error', () => {}); // 'close' follows and reports it
    socket.on('end', () => socket.destroy());
    socket.once('close', () => this.onClosed());
  }

  static connect(socketPath: string, opts: ConnectOptions = {}): Promise<TtrpcClient> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection({ path: socketPath });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TtrpcError(Code.DeadlineExceeded, `ttrpc: connecting to ${socketPath} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new TtrpcError(Code.Unavailable, `ttrpc: cannot connect to ${socketPath}: ${err.message}`, { cause: err }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TtrpcClient(socket));
      });
    });
  }

  call(service: string, method: string, payload: Uint8Array, opts: CallOptions = {}): Promise<Uint8Array> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    if (opts.signal?.aborted) return Promise.reject(cancelled(service, method));
    const id = this.nextStreamId;
    if (id > MAX_STREAM_ID) return Promise.reject(new TtrpcError(Code.ResourceExhausted, 'ttrpc: stream ids exhausted; reconnect'));
    this.nextStreamId += 2;

    const timeoutMs = opts.timeoutMs;
    const body = ttrpc.Request.encode({
      service,
      method,
      payload,
      timeoutNano: timeoutMs && timeoutMs > 0 ? Math.round(timeoutMs * 1e6) : 0,
      metadata: pairsFromRecord(opts.metadata),
    }).finish();
    if (body.length > MAX_DATA_LENGTH) {
      return Promise.reject(
        new TtrpcError(Code.ResourceExhausted, `ttrpc: message length ${body.length} exceeds maximum message size of ${MAX_DATA_LENGTH}`),
      );
    }

    return new Promise<Uint8Array>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const signal = opts.signal;
      const onAbort = () => settle(() => reject(cancelled(service, method)));
      const settle = (done: () => void) => {
        if (this.pending.get(id) !== entry) return;
        this.pending.delete(id);
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        done();
      };
      const entry: Pending = {
        resolve: (p) => settle(() => resolve(p)),
        reject: (e) => settle(() => reject(e)),
      };
      this.pending.set(id, entry);
      if (timeoutMs && timeoutMs > 0) {
        timer = setTimeout(
          () => entry.reject(new TtrpcError(Code.DeadlineExceeded, `${service}/${method}: deadline exceeded after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.socket.write(encodeFrame(id, FrameType.Request, 0, body));
    });
  }

  /** Closes the connection; pending calls fail with Unavailable. */
  close(): void {
    this.socket.destroy();
  }

  /** `cb` runs once when the connection is gone (closed by either side). */
  onClose(cb: (err?: Error) => void): void {
    if (this.closedWith) queueMicrotask(() => cb(this.closedWith));
    else this.closeCallbacks.push(cb);
  }

  get closed(): boolean {
    return this.closedWith !== undefined;
  }

  private onFrame(frame: Frame): void {
    const entry = this.pending.get(frame.streamId);
    if (!entry) return; // timed out or aborted earlier
    if (frame.oversize !== undefined) {
      entry.reject(new TtrpcError(Code.ResourceExhausted, `ttrpc: reply length ${frame.oversize} exceeds maximum message size of ${MAX_DATA_LENGTH}`));
      return;
    }
    if (frame.type !== FrameType.Response) {
      entry.reject(new TtrpcError(Code.Internal, `ttrpc: unexpected message type ${frame.type} on a unary call`));
      return;
    }
    let res: ttrpc.Response;
    try {
      res = ttrpc.Response.decode(frame.data);
    } catch (err) {
      entry.reject(new TtrpcError(Code.Internal, `ttrpc: malformed response: ${(err as Error).message}`, { cause: err }));
      return;
    }
    if (res.status && res.status.code) entry.reject(fromStatus(res.status));
    else entry.resolve(res.payload ?? new Uint8Array(0));
  }

  private onClosed(): void {
    const err = new TtrpcError(Code.Unavailable, 'ttrpc: connection closed');
    this.closedWith = err;
    for (const entry of [...this.pending.values()]) entry.reject(err);
    for (const cb of this.closeCallbacks.splice(0)) cb(err);
  }
}

function cancelled(service: string, method: string): TtrpcError {
  return new TtrpcError(Code.Cancelled, `${service}/${method}: cancelled by caller`);
}
