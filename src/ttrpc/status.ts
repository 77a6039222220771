// The one place where a thrown value becomes a wire status (and a wire status becomes an error).
// containerd branches on NotFound 5, AlreadyExists 6, FailedPrecondition 9 and Unimplemented 12,
// so a coded error must keep its code end to end; an uncoded one is Unknown, as in Go's ttrpc.
import { Code, CodedError, isCodedError } from '../errors';

export { Code, CodedError } from '../errors';

/** An error reply received by TtrpcClient; `code` is the gRPC code from the response status. */
export class TtrpcError extends CodedError {
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

export interface WireStatus {
  code: Code;
  message: string;
}

/**
 * Maps whatever a handler threw to the status sent back:
 * CodedError → its code; abort (the call's signal, or an AbortError/TimeoutError) →
 * Cancelled / DeadlineExceeded; anything else → Unknown. (A request that does not decode is
 * InvalidArgument because the code that decodes it says so: the ttrpc frame in server.ts, the
 * method's message in shim/unary.ts.)
 */
export function toStatus(err: unknown, signal?: AbortSignal): WireStatus {
  if (isCodedError(err)) return { code: err.code, message: err.message };
  if (signal?.aborted && err === signal.reason) {
    const reason: unknown = signal.reason;
    if (isCodedError(reason)) return { code: reason.code, message: reason.message };
  }
  if (isAbortError(err)) {
    const name = (err as Error).name;
    return { code: name === 'TimeoutError' ? Code.DeadlineExceeded : Code.Cancelled, message: (err as Error).message };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { code: Code.Unknown, message: message || 'unknown error' };
}

/** Turns a received non-OK status into the error a caller sees. */
export function fromStatus(status: { code?: number | null; message?: string | null }): TtrpcError {
  const code = (status.code ?? Code.Unknown) as Code;
  return new TtrpcError(code, status.message || Code[code] || `code ${code}`);
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
