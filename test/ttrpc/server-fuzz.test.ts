// Property: whatever bytes a peer sends, the server answers every complete frame it can attribute
// to a stream (with a well-formed Response) or closes that connection — and other connections
// keep being served. Random bytes and mutated streams of real frames, bounded runs.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ttrpc } from '../../src/proto';
import { encodeFrame, FrameDecoder, TtrpcClient } from '../../src/ttrpc';
import { rawConnect, serve, sleep, str, text, type Served } from './helpers';

let served: Served;
let healthy: TtrpcClient;
beforeAll(async () => {
  served = await serve((s) =>
    s.register('test.Echo', {
      Say: async (p) => p,
      Boom: async () => {
        throw new Error('boom');
      },
    }),
  );
  healthy = await TtrpcClient.connect(served.socketPath);
});
afterAll(async () => {
  healthy.close();
  await served.cleanup();
});

const frameArb = fc
  .record({
    id: fc.integer({ min: 0, max: 12 }),
    type: fc.constantFrom(1, 1, 1, 2, 3, 0, 9),
    flags: fc.constantFrom(0, 0, 0, 1, 2, 4, 5),
    service: fc.constantFrom('test.Echo', 'test.Missing', ''),
    method: fc.constantFrom('Say', 'Boom', 'Nope'),
    payload: fc.uint8Array({ maxLength: 24 }),
    timeoutNano: fc.constantFrom(0, 1e6, 5e9),
    md: fc.array(fc.record({ key: fc.string({ maxLength: 5 }), value: fc.string({ maxLength: 5 }) }), { maxLength: 2 }),
  })
  .map((f) =>
    encodeFrame(f.id, f.type, f.flags, ttrpc.Request.encode({ service: f.service, method: f.method, payload: f.payload, timeoutNano: f.timeoutNano, metadata: f.md }).finish()),
  );

const mutatedStream = fc
  .record({
    frames: fc.array(frameArb, { minLength: 1, maxLength: 6 }),
    flips: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
    cut: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ frames, flips, cut }) => {
    const bytes = Buffer.concat(frames);
    for (const { at, byte } of flips) bytes[at % bytes.length] = byte;
    return cut === undefined ? bytes : bytes.subarray(0, cut % (bytes.length + 1));
  });

const randomStream = fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => Buffer.from(b));

async function probe(bytes: Buffer): Promise<void> {
  const sent = new FrameDecoder().push(bytes).length;
  const conn = await rawConnect(served.socketPath);
  let closed = false;
  void conn.closed.then(() => (closed = true));
  conn.socket.write(bytes);
  const deadline = Date.now() + 1_000;
  const replies = () => new FrameDecoder().push(conn.received());
  while (sent > 0 && replies().length === 0 && !closed && Date.now() < deadline) await sleep(2);
  await sleep(5);
  const got = replies();
  conn.socket.destroy();
  if (sent > 0) expect(got.length > 0 || closed, `no answer and no close for ${sent} frame(s)`).toBe(true);
  expect(got.length).toBeLessThanOrEqual(sent);
  for (const f of got) {
    expect(f.type).toBe(2);
    expect(f.flags).toBe(0);
    expect(() => ttrpc.Response.decode(f.data)).not.toThrow();
  }
  // the server is still serving others
  expect(str(await healthy.call('test.Echo', 'Say', text('alive'), { timeoutMs: 2_000 }))).toBe('alive');
}

describe('server under hostile input', () => {
  it('answers or closes, and keeps serving, for mutated frame streams', async () => {
    await fc.assert(fc.asyncProperty(mutatedStream, probe), { numRuns: 150, interruptAfterTimeLimit: 8_000 });
  });

  it('answers or closes, and keeps serving, for random bytes', async () => {
    await fc.assert(fc.asyncProperty(randomStream, probe), { numRuns: 100, interruptAfterTimeLimit: 6_000 });
  });
});
