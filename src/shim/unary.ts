// Adapts a typed RPC method to ttrpc's byte-level Handler: decode the request with its
// generated message class, run the method, encode the response. Shared by the Task and Sandbox
// service adapters; decode failures surface as InvalidArgument through ttrpc's status mapping.
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
  return async (payload, ctx) => res.encode(await fn(req.decode(payload), ctx)).finish();
}
