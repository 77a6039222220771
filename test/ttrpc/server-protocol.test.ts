// What the server does with bytes no well-behaved client sends: it answers on the offending
// stream with the code containerd/ttrpc's Go server uses, and keeps serving.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ttrpc } from '../../src/proto';
import { Code, encodeFrame, FrameDecoder, FrameFlag, FrameType, MAX_DATA_LENGTH, type Frame } from '../../src/ttrpc';
import { rawConnect, serve, sleep, text, type Served } from './helpers';

let served: Served;
beforeEach(async () => {
  served = await serve((s) =>
    s.register('test.Echo', {
      Say: async (p) => p,
      Slow: async (p) => {
        await sleep(30);
        return p;
      },
    }),
  );
});
afterEach(() => served.cleanup());

const request = (service: string, method: string, payload = text('x')) => ttrpc.Request.encode({ service, method, payload }).finish();

interface Reply {
  streamId: number;
  type: number;
  code: number;
  message: string;
  payload: string;
}

async function exchange(chunks: Uint8Array[], expectReplies: number): Promise<{ replies: Reply[]; closed: boolean }> {
  const conn = await rawConnect(served.socketPath);
  for (const c of chunks) conn.socket.write(c);
  const deadline = Date.now() + 2_000;
  const decode = () =>
    new FrameDecoder().push(conn.received()).map((f: Frame) => {
      const r = ttrpc.Response.decode(f.data);
      return { streamId: f.streamId, type: f.type, code: r.status?.code ?? 0, message: r.status?.message ?? '', payload: Buffer.from(r.payload ?? []).toString() };
    });
  let closed = false;
  void conn.closed.then(() => (closed = true));
  while (decode().length < expectReplies && !closed && Date.now() < deadline) await sleep(5);
  const replies = decode();
  conn.socket.destroy();
  return { replies, closed };
}

const frame = (id: number, body: Uint8Array, type: number = FrameType.Request, flags = 0) => encodeFrame(id, type, flags, body);

describe('server protocol rules', () => {
  it('even stream id → InvalidArgument on that stream', async () => {
    const { replies } = await exchange([frame(2, request('test.Echo', 'Say'))], 1);
    expect(replies).toEqual([{ streamId: 2, type: 2, code: Code.InvalidArgument, message: 'StreamID must be odd for client initiated streams', payload: '' }]);
  });

  it('re-used or decreasing stream id → InvalidArgument; the first call still succeeds', async () => {
    const { replies } = await exchange([frame(5, request('test.Echo', 'Say')), frame(5, request('test.Echo', 'Say')), frame(3, request('test.Echo', 'Say'))], 3);
    // refusals go out at once, the handler's reply after it resolves: compare regardless of order
    expect(replies.map((r) => `${r.streamId}:${r.code}:${r.message}`).sort()).toEqual([
      '3:3:StreamID cannot be re-used and must increment',
      '5:0:',
      '5:3:StreamID cannot be re-used and must increment',
    ]);
  });

  it('malformed Request protobuf → InvalidArgument', async () => {
    const { replies } = await exchange([frame(1, new Uint8Array([0x0a, 0x7f, 0x01]))], 1);
    expect(replies[0]).toMatchObject({ streamId: 1, code: Code.InvalidArgument });
    expect(replies[0]!.message).toMatch(/^malformed request/);
  });

  it('streaming request flags are refused with Unimplemented', async () => {
    const { replies } = await exchange([frame(1, request('test.Echo', 'Say'), FrameType.Request, FrameFlag.RemoteOpen)], 1);
    expect(replies[0]).toMatchObject({ streamId: 1, code: Code.Unimplemented });
  });

  it('data frame for no active stream → InvalidArgument', async () => {
    const { replies } = await exchange([frame(1, text('d'), FrameType.Data)], 1);
    expect(replies[0]).toMatchObject({ streamId: 1, code: Code.InvalidArgument, message: 'StreamID is no longer active' });
  });

  it('data frame on an in-flight unary call fails that call once', async () => {
    const { replies } = await exchange([frame(1, request('test.Echo', 'Slow')), frame(1, text('d'), FrameType.Data)], 1);
    await sleep(60); // the handler finishes later; its reply must be dropped
    expect(replies).toHaveLength(1);
    expect(replies[0]).toMatchObject({ streamId: 1, code: Code.InvalidArgument });
  });

  it('unknown message type → InvalidArgument', async () => {
    const { replies } = await exchange([frame(1, text('?'), 0x09)], 1);
    expect(replies[0]).toMatchObject({ streamId: 1, code: Code.InvalidArgument, message: 'unexpected message type 9' });
  });

  it('oversized frame → ResourceExhausted on its stream, then the connection keeps working', async () => {
    const header = Buffer.alloc(10);
    header.writeUInt32BE(MAX_DATA_LENGTH + 1, 0);
    header.writeUInt32BE(1, 4);
    header[8] = FrameType.Request;
    const junk = Buffer.alloc(MAX_DATA_LENGTH + 1, 0xaa);
    const { replies, closed } = await exchange([header, junk, frame(3, request('test.Echo', 'Say', text('after')))], 2);
    expect(closed).toBe(false);
    expect(replies.map((r) => [r.streamId, r.code, r.payload])).toEqual([
      [1, Code.ResourceExhausted, ''],
      [3, 0, 'after'],
    ]);
    expect(replies[0]!.message).toMatch(/exceed maximum message size of 4194304/);
  });

  it('a success reply omits the status field', async () => {
    const conn = await rawConnect(served.socketPath);
    conn.socket.write(frame(1, request('test.Echo', 'Say', text('ok'))));
    while (conn.received().length < 10) await sleep(5);
    const [f] = new FrameDecoder().push(conn.received());
    conn.socket.destroy();
    // Response{payload="ok"} only: tag 0x12, no 0x0a status
    expect(Buffer.from(f!.data).toString('hex')).toBe('12026f6b');
  });
});
