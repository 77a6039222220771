// Adapts a typed RPC method to ttrpc's byte-level Handler: decode the request with its
// generated message class, run the method, encode the response. Shared by the Task and Sandbox
// service adapters. A request that does not decode is the caller's fault: InvalidArgument, decided
// here where the decode happens rather than guessed later from the decoder's message text.
import { invalidArgument } from '../errors';
import type { CallContext, Handler } from '../ttrpc';

interface Decoder<T> {
  decode(bytes: Uint8Array): T;
}
interface Encoder<T> {
  encode(message: T): { finish(): Uint8Array };
}

export function unary<Req, Res>(
  req: Decoder<Req>,
  res: Encoder<Res>,
  fn: (request: Req, ctx: CallContext) => Promise<Res>,
): Handler {
  return async (payload, ctx) => res.encode(await fn(decodeRequest(req, payload, ctx), ctx)).finish();
}

function decodeRequest<Req>(req: Decoder<Req>, payload: Uint8Array, ctx: CallContext): Req {
  try {
    return req.decode(payload);
  } catch (err) {
    throw invalidArgument(`malformed ${ctx.service}/${ctx.method} request: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}
