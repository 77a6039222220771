// ttrpc framing (containerd/ttrpc channel.go): a 10-byte header — u32 BE data length, u32 BE
// stream id, u8 message type, u8 flags — followed by `length` bytes of data, at most 4 MiB.
// The decoder is a pure state machine: bytes in, whole frames out. It never throws on input; an
// oversized frame is skipped and reported (as `oversize`) so the server can answer
// ResourceExhausted on that stream instead of buffering it or dropping the connection.

export const HEADER_LENGTH = 10;
/** Largest data section a peer may send (messageLengthMax in containerd/ttrpc). */
export const MAX_DATA_LENGTH = 4 << 20;

export enum FrameType {
  Request = 0x1,
  Response = 0x2,
  Data = 0x3,
}

/** Stream flags (ttrpc ≥ 1.2). A unary Request carries none; Responses never do. */
export enum FrameFlag {
  RemoteClosed = 0x1,
  RemoteOpen = 0x2,
  NoData = 0x4,
}

export interface Frame {
  streamId: number;
  type: number;
  flags: number;
  /** Data section; empty for an oversized frame. May share memory with the pushed chunk. */
  data: Uint8Array;
  /** Declared length when the frame exceeded MAX_DATA_LENGTH and its data was discarded. */
  oversize?: number;
}

/** Header and data in one buffer, so a frame is one socket write. */
export function encodeFrame(streamId: number, type: number, flags: number, data: Uint8Array): Buffer {
  if (data.length > MAX_DATA_LENGTH) {
    throw new RangeError(`ttrpc: message length ${data.length} exceeds maximum message size of ${MAX_DATA_LENGTH}`);
  }
  const buf = Buffer.allocUnsafe(HEADER_LENGTH + data.length);
  buf.writeUInt32BE(data.length, 0);
  buf.writeUInt32BE(streamId >>> 0, 4);
  buf[8] = type;
  buf[9] = flags;
  buf.set(data, HEADER_LENGTH);
  return buf;
}

enum State {
  Header,
  Data,
  Discard,
}

export class FrameDecoder {
  private state = State.Header;
  private readonly header = Buffer.alloc(HEADER_LENGTH);
  private headerFill = 0;
  private length = 0;
  private streamId = 0;
  private type = 0;
  private flags = 0;
  /** Data of a frame split across chunks, allocated once at its final size. */
  private data: Buffer | undefined;
  private dataFill = 0;
  private discardLeft = 0;

  /** Feeds bytes; returns every frame completed by them (possibly none). */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let off = 0;
    while (off < buf.length) {
      switch (this.state) {
        case State.Header: {
          if (this.headerFill === 0 && buf.length - off >= HEADER_LENGTH) {
            this.readHeader(buf, off);
            off += HEADER_LENGTH;
          } else {
            const n = Math.min(HEADER_LENGTH - this.headerFill, buf.length - off);
            buf.copy(this.header, this.headerFill, off, off + n);
            this.headerFill += n;
            off += n;
            if (this.headerFill < HEADER_LENGTH) return frames;
            this.headerFill = 0;
            this.readHeader(this.header, 0);
          }
          if (this.length > MAX_DATA_LENGTH) {
            frames.push(this.frame(new Uint8Array(0), this.length));
            this.discardLeft = this.length;
            this.state = State.Discard;
          } else if (buf.length - off >= this.length) {
            // Fast path: the whole data section is in this chunk; hand out a view, no copy.
            frames.push(this.frame(buf.subarray(off, off + this.length)));
            off += this.length;
          } else {
            this.data = Buffer.allocUnsafe(this.length);
            this.dataFill = buf.copy(this.data, 0, off);
            off = buf.length;
            this.state = State.Data;
          }
          break;
        }
        case State.Data: {
          const data = this.data!;
          const n = buf.copy(data, this.dataFill, off, Math.min(buf.length, off + data.length - this.dataFill));
          this.dataFill += n;
          off += n;
          if (this.dataFill === data.length) {
            frames.push(this.frame(data));
            this.data = undefined;
            this.state = State.Header;
          }
          break;
        }
        case State.Discard: {
          const n = Math.min(this.discardLeft, buf.length - off);
          this.discardLeft -= n;
          off += n;
          if (this.discardLeft === 0) this.state = State.Header;
          break;
        }
      }
    }
    return frames;
  }

  /** True when no partial frame is buffered (a clean place for the peer to stop). */
  get idle(): boolean {
    return this.state === State.Header && this.headerFill === 0;
  }

  private readHeader(buf: Buffer, off: number): void {
    this.length = buf.readUInt32BE(off);
    this.streamId = buf.readUInt32BE(off + 4);
    this.type = buf[off + 8]!;
    this.flags = buf[off + 9]!;
  }

  private frame(data: Uint8Array, oversize?: number): Frame {
    const f: Frame = { streamId: this.streamId, type: this.type, flags: this.flags, data };
    if (oversize !== undefined) f.oversize = oversize;
    return f;
  }
}
