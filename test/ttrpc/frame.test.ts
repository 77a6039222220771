import { describe, expect, it } from 'vitest';
import { encodeFrame, FrameDecoder, FrameType, HEADER_LENGTH, MAX_DATA_LENGTH, type Frame } from '../../src/ttrpc/frame';

const simplify = (frames: Frame[]) =>
  frames.map((f) => ({ streamId: f.streamId, type: f.type, flags: f.flags, data: Buffer.from(f.data).toString('hex'), oversize: f.oversize }));

function header(length: number, streamId: number, type: number, flags = 0): Buffer {
  const h = Buffer.alloc(HEADER_LENGTH);
  h.writeUInt32BE(length, 0);
  h.writeUInt32BE(streamId, 4);
  h[8] = type;
  h[9] = flags;
  return h;
}

describe('encodeFrame', () => {
  it('writes the 10-byte big-endian header before the data', () => {
    const f = encodeFrame(0x01020304, FrameType.Response, 0x05, Buffer.from('abc'));
    expect(f.toString('hex')).toBe('00000003' + '01020304' + '02' + '05' + '616263');
  });

  it('refuses data over 4 MiB', () => {
    expect(() => encodeFrame(1, FrameType.Request, 0, new Uint8Array(MAX_DATA_LENGTH + 1))).toThrow(/exceeds maximum/);
  });
});

describe('FrameDecoder', () => {
  const a = encodeFrame(1, FrameType.Request, 0, Buffer.from('hello'));
  const b = encodeFrame(3, FrameType.Request, 0, Buffer.alloc(0));
  const c = encodeFrame(5, FrameType.Response, 0, Buffer.from('0123456789abcdef'));
  const expected = simplify([...new FrameDecoder().push(a), ...new FrameDecoder().push(b), ...new FrameDecoder().push(c)]);

  it('decodes one frame per chunk', () => {
    expect(expected).toEqual([
      { streamId: 1, type: 1, flags: 0, data: Buffer.from('hello').toString('hex'), oversize: undefined },
      { streamId: 3, type: 1, flags: 0, data: '', oversize: undefined },
      { streamId: 5, type: 2, flags: 0, data: Buffer.from('0123456789abcdef').toString('hex'), oversize: undefined },
    ]);
  });

  it('reassembles frames fed byte by byte', () => {
    const d = new FrameDecoder();
    const all = Buffer.concat([a, b, c]);
    const out: Frame[] = [];
    for (const byte of all) out.push(...d.push(Buffer.from([byte])));
    expect(simplify(out)).toEqual(expected);
    expect(d.idle).toBe(true);
  });

  it('returns every frame of a coalesced chunk', () => {
    const d = new FrameDecoder();
    expect(simplify(d.push(Buffer.concat([a, b, c])))).toEqual(expected);
  });

  it('handles splits at every offset', () => {
    const all = Buffer.concat([a, b, c]);
    for (let cut = 1; cut < all.length; cut++) {
      const d = new FrameDecoder();
      const out = [...d.push(all.subarray(0, cut)), ...d.push(all.subarray(cut))];
      expect(simplify(out)).toEqual(expected);
    }
  });

  it('accepts a frame of exactly the maximum size', () => {
    const d = new FrameDecoder();
    const data = Buffer.alloc(MAX_DATA_LENGTH, 7);
    const frame = encodeFrame(9, FrameType.Request, 0, data);
    const out = [...d.push(frame.subarray(0, 1000)), ...d.push(frame.subarray(1000))];
    expect(out).toHaveLength(1);
    expect(out[0]!.data.length).toBe(MAX_DATA_LENGTH);
    expect(out[0]!.oversize).toBeUndefined();
  });

  it('reports an oversized frame, discards its data and resynchronises on the next frame', () => {
    const d = new FrameDecoder();
    const big = MAX_DATA_LENGTH + 1;
    const out = [...d.push(header(big, 7, FrameType.Request))];
    expect(out).toEqual([{ streamId: 7, type: 1, flags: 0, data: new Uint8Array(0), oversize: big }]);
    // the discarded bytes arrive in pieces, followed by a normal frame in the same chunk
    expect(d.push(Buffer.alloc(big - 10))).toEqual([]);
    const next = d.push(Buffer.concat([Buffer.alloc(10), a]));
    expect(simplify(next)).toEqual([expected[0]]);
  });

  it('passes unknown message types through for the server to refuse', () => {
    const d = new FrameDecoder();
    const out = d.push(encodeFrame(11, 0x7f, 0, Buffer.from('x')));
    expect(out[0]!.type).toBe(0x7f);
  });
});
