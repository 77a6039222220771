// W3C Trace Context (https://www.w3.org/TR/trace-context/) as it arrives in ttrpc metadata:
// `traceparent` and `tracestate`, keys lower-case (metadata.ts lower-cases them on the way in).
// Pure parsing, no OpenTelemetry import, so the rules are table-tested on their own and the
// tracing module only turns the result into a span context.

/** A remote parent: what a valid `traceparent` says, plus the raw `tracestate` if any. */
export interface RemoteParent {
  traceId: string;
  spanId: string;
  /** Bit 0 = sampled. */
  traceFlags: number;
  traceState?: string;
}

// version "-" trace-id "-" parent-id "-" trace-flags, then (future versions only) more fields.
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ALL_ZERO = /^0+$/;
/** Longest tracestate we pass on; the spec allows 32 members of up to 256 bytes each. */
const MAX_TRACESTATE = 512 * 32;

/**
 * Parses `traceparent`; undefined for anything the spec says to ignore (then the call starts a
 * new trace): wrong shape, upper-case hex, version ff, all-zero ids, extra fields on version 00.
 */
export function parseTraceparent(value: string | undefined, tracestate?: string): RemoteParent | undefined {
  if (value === undefined) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m as unknown as [string, string, string, string, string, string | undefined];
  if (version === 'ff') return undefined;
  if (version === '00' && rest !== undefined) return undefined;
  if (ALL_ZERO.test(traceId) || ALL_ZERO.test(spanId)) return undefined;
  const parent: RemoteParent = { traceId, spanId, traceFlags: parseInt(flags, 16) & 0xff };
  const state = tracestate?.trim();
  if (state && state.length <= MAX_TRACESTATE) parent.traceState = state;
  return parent;
}

/** Formats a `traceparent` (version 00), e.g. for a client that propagates our context. */
export function formatTraceparent(traceId: string, spanId: string, traceFlags: number): string {
  return `00-${traceId}-${spanId}-${(traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}
