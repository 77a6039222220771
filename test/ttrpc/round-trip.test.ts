import { afterEach, describe, expect, it } from 'vitest';
import { CodedError, notFound } from '../../src/errors';
import { Code, MAX_DATA_LENGTH, TtrpcClient, TtrpcError, type CallContext } from '../../src/ttrpc';
import { serve, sleep, str, text, type Served } from './helpers';

let served: Served | undefined;
let client: TtrpcClient | undefined;
afterEach(async () => {
  client?.close();
  client = undefined;
  await served?.cleanup();
  served = undefined;
});

async function start(setup: Parameters<typeof serve>[0]) {
  served = await serve(setup);
  client = await TtrpcClient.connect(served.socketPath);
  return { served, client };
}

const codeOf = async (p: Promise<unknown>) => {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TtrpcError);
  return { code: (err as TtrpcError).code, message: (err as TtrpcError).message };
};

describe('TtrpcServer ⇄ TtrpcClient over a unix socket', () => {
  it('round-trips a unary call', async () => {
    const { client } = await start((s) => s.register('test.Echo', { Say: async (p) => text(`echo:${str(p)}`) }));
    expect(str(await client.call('test.Echo', 'Say', text('hi')))).toBe('echo:hi');
  });

  it('treats an absent payload as an empty message both ways', async () => {
    const { client } = await start((s) =>
      s.register('test.Echo', { Empty: async (p) => (p.length === 0 ? new Uint8Array(0) : text('not empty')) }),
    );
    expect((await client.call('test.Echo', 'Empty', new Uint8Array(0))).length).toBe(0);
  });

  it('serves 1000 concurrent calls on one connection, replying out of order', async () => {
    const { client } = await start((s) =>
      s.register('test.Echo', {
        Slow: async (p) => {
          await sleep(Number(str(p)) % 7);
          return p;
        },
      }),
    );
    const results = await Promise.all(Array.from({ length: 1000 }, (_, i) => client.call('test.Echo', 'Slow', text(String(i)))));
    expect(results.map(str)).toEqual(Array.from({ length: 1000 }, (_, i) => String(i)));
  });

  it('unknown service and unknown method are Unimplemented (12), not NotFound', async () => {
    const { client } = await start((s) => s.register('test.Echo', { Say: async (p) => p }));
    expect(await codeOf(client.call('nope.Service', 'Say', text('')))).toEqual({ code: 12, message: 'service nope.Service' });
    expect(await codeOf(client.call('test.Echo', 'Nope', text('')))).toEqual({ code: 12, message: 'method Nope' });
  });

  it('a CodedError keeps its code on the wire (NotFound → 5)', async () => {
    const { client } = await start((s) =>
      s.register('test.Svc', {
        Get: async () => {
          throw notFound('container "abc" not created: not found');
        },
      }),
    );
    expect(await codeOf(client.call('test.Svc', 'Get', text('')))).toEqual({ code: Code.NotFound, message: 'container "abc" not created: not found' });
  });

  it('a plain Error is Unknown (2) and is reported to onError', async () => {
    const { client, served } = await start((s) =>
      s.register('test.Svc', {
        Boom: async () => {
          throw new Error('kaboom');
        },
      }),
    );
    expect(await codeOf(client.call('test.Svc', 'Boom', text('')))).toEqual({ code: Code.Unknown, message: 'kaboom' });
    expect(served.errors).toHaveLength(1);
  });

  it('a request that does not decode in a unary() handler is InvalidArgument (3) on the wire', async () => {
    const { google } = await import('../../src/proto');
    const { unary } = await import('../../src/shim/unary');
    const { client } = await start((s) =>
      s.register('test.Svc', { Decode: unary(google.protobuf.Timestamp, google.protobuf.Empty, async () => ({})) }),
    );
    const res = await codeOf(client.call('test.Svc', 'Decode', new Uint8Array([0x0a, 0x05, 0x61])));
    expect(res.code).toBe(Code.InvalidArgument);
    expect(res.message).toContain('malformed test.Svc/Decode request');
  });

  it('hands metadata to the handler with lower-cased keys and repeated values', async () => {
    let seen: CallContext['metadata'] | undefined;
    const { client } = await start((s) =>
      s.register('test.Svc', {
        Md: async (p, ctx) => {
          seen = ctx.metadata;
          return p;
        },
      }),
    );
    await client.call('test.Svc', 'Md', text(''), {
      metadata: { 'containerd-namespace-ttrpc': 'default', TraceParent: ['a', 'b'] },
    });
    expect(seen?.get('containerd-namespace-ttrpc')).toEqual(['default']);
    expect(seen?.get('traceparent')).toEqual(['a', 'b']);
  });

  it('a client timeout fails the call with DeadlineExceeded and the handler sees its signal abort', async () => {
    let seen: CallContext | undefined;
    let resolveAbort: (reason: unknown) => void = () => {};
    const aborted = new Promise<unknown>((r) => (resolveAbort = r));
    const { client } = await start((s) =>
      s.register('test.Svc', {
        Hang: (_p, ctx) => {
          seen = ctx;
          ctx.signal.addEventListener('abort', () => resolveAbort(ctx.signal.reason));
          return new Promise(() => {});
        },
      }),
    );
    const before = Date.now();
    const res = await codeOf(client.call('test.Svc', 'Hang', text(''), { timeoutMs: 50 }));
    expect(res.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - before).toBeGreaterThanOrEqual(45);
    // the server got timeout_nano and aborts the handler on its own clock
    expect(((await aborted) as CodedError).code).toBe(Code.DeadlineExceeded);
    expect(seen?.signal.aborted).toBe(true);
    expect(seen?.deadline).toBeGreaterThanOrEqual(before + 45);
  });

  it('closing the connection aborts in-flight handlers and rejects pending calls', async () => {
    let resolveAbort: (r: unknown) => void = () => {};
    const aborted = new Promise<unknown>((r) => (resolveAbort = r));
    const { client } = await start((s) =>
      s.register('test.Svc', {
        Wait: (_p, ctx) => {
          ctx.signal.addEventListener('abort', () => resolveAbort(ctx.signal.reason));
          return new Promise(() => {});
        },
      }),
    );
    const pending = codeOf(client.call('test.Svc', 'Wait', text('')));
    await sleep(20);
    let closedCb = false;
    client.onClose(() => (closedCb = true));
    client.close();
    expect((await pending).code).toBe(Code.Unavailable);
    expect(((await aborted) as CodedError).code).toBe(Code.Cancelled);
    expect(closedCb).toBe(true);
    expect((await codeOf(client.call('test.Svc', 'Wait', text('')))).code).toBe(Code.Unavailable);
  });

  it('a caller AbortSignal fails the call with Cancelled', async () => {
    const { client } = await start((s) => s.register('test.Svc', { Hang: () => new Promise(() => {}) }));
    const ac = new AbortController();
    const p = codeOf(client.call('test.Svc', 'Hang', text(''), { signal: ac.signal }));
    ac.abort();
    expect((await p).code).toBe(Code.Cancelled);
  });

  it('interceptors wrap every call in registration order', async () => {
    const order: string[] = [];
    const { client } = await start((s) => {
      s.use(async (ctx, _p, next) => {
        order.push(`a>${ctx.method}`);
        const r = await next();
        order.push('a<');
        return r;
      });
      s.use(async (_ctx, _p, next) => {
        order.push('b>');
        const r = await next();
        order.push('b<');
        return r;
      });
      s.register('test.Svc', {
        M: async (p) => {
          order.push('handler');
          return p;
        },
      });
    });
    await client.call('test.Svc', 'M', text('x'));
    expect(order).toEqual(['a>M', 'b>', 'handler', 'b<', 'a<']);
  });

  it('close() lets an in-flight call finish and refuses new connections', async () => {
    const { client, served } = await start((s) =>
      s.register('test.Svc', {
        Slow: async (p) => {
          await sleep(50);
          return p;
        },
      }),
    );
    const inflight = client.call('test.Svc', 'Slow', text('done'));
    await sleep(10);
    const closing = served.server.close(2_000);
    expect(str(await inflight)).toBe('done');
    await closing;
    await expect(TtrpcClient.connect(served.socketPath, { timeoutMs: 500 })).rejects.toBeInstanceOf(TtrpcError);
  });

  it('close(graceMs) aborts handlers still running after the grace period', async () => {
    let reason: unknown;
    const { client, served } = await start((s) =>
      s.register('test.Svc', {
        Hang: (_p, ctx) =>
          new Promise((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => {
              reason = ctx.signal.reason;
              reject(ctx.signal.reason as Error);
            });
          }),
      }),
    );
    const pending = codeOf(client.call('test.Svc', 'Hang', text('')));
    await sleep(10);
    const before = Date.now();
    await served.server.close(50);
    expect(Date.now() - before).toBeGreaterThanOrEqual(45);
    expect((reason as CodedError).code).toBe(Code.Cancelled);
    expect((await pending).code).toBe(Code.Unavailable);
  });

  it('connect to a missing socket fails with Unavailable', async () => {
    const err = await TtrpcClient.connect('/nonexistent/micrun.sock').catch((e: unknown) => e);
    expect((err as TtrpcError).code).toBe(Code.Unavailable);
  });
});

describe('TtrpcServer.listenHandle', () => {
  it('serves a listener the caller created (as the shim daemon adopts the socket from start)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const path = await import('node:path');
    const net = await import('node:net');
    const { TtrpcServer } = await import('../../src/ttrpc');
    const dir = mkdtempSync(path.join(tmpdir(), 'micrun-ttrpc-'));
    const socketPath = path.join(dir, 's.sock');
    const listener = net.createServer();
    await new Promise<void>((r) => listener.listen(socketPath, r));
    const server = new TtrpcServer();
    server.register('test.Echo', { Say: async (p) => p });
    await server.listenHandle(listener);
    const c = await TtrpcClient.connect(socketPath);
    try {
      expect(str(await c.call('test.Echo', 'Say', text('adopted')))).toBe('adopted');
    } finally {
      c.close();
      await server.close(100);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(listener.listening).toBe(false);
  });
});

describe('reply sizes', () => {
  it.each([0, 1, 127, 128, 16_383, 16_384, 300_000])('a %i-byte reply round-trips', async (size) => {
    const body = new Uint8Array(size).map((_, i) => i % 251);
    const { client } = await start((s) => s.register('test.Size', { Get: async () => body }));
    const got = await client.call('test.Size', 'Get', text(''));
    expect(Buffer.from(got).equals(Buffer.from(body))).toBe(true);
  });

  it('a reply over 4 MiB becomes ResourceExhausted instead of a hang', async () => {
    const { client } = await start((s) => s.register('test.Size', { Big: async () => new Uint8Array(MAX_DATA_LENGTH) }));
    expect((await codeOf(client.call('test.Size', 'Big', text('')))).code).toBe(Code.ResourceExhausted);
  });
});

describe('onError', () => {
  it('a throwing onError callback does not stop the reply or the server', async () => {
    const { serve } = await import('./helpers');
    const s = await serve(
      (srv) =>
        srv.register('test.Svc', {
          Boom: async () => {
            throw new Error('boom');
          },
          Ok: async (p) => p,
        }),
      {
        onError: () => {
          throw new Error('logger broke');
        },
      },
    );
    const c = await TtrpcClient.connect(s.socketPath);
    try {
      expect((await codeOf(c.call('test.Svc', 'Boom', text('')))).code).toBe(Code.Unknown);
      expect(str(await c.call('test.Svc', 'Ok', text('still here')))).toBe('still here');
    } finally {
      c.close();
      await s.cleanup();
    }
  });
});
