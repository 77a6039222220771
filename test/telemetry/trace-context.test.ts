import { describe, expect, it } from 'vitest';
import { leadingStringField } from '../../src/telemetry/request-id';
import { formatTraceparent, parseTraceparent } from '../../src/telemetry/trace-context';

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN = '00f067aa0ba902b7';

describe('parseTraceparent', () => {
  it('reads a version 00 traceparent and keeps tracestate', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-01`, 'congo=t61rcWkgMzE')).toEqual({
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
      traceState: 'congo=t61rcWkgMzE',
    });
  });

  it('keeps the unsampled flag', () => {
    expect(parseTraceparent(`00-${TRACE}-${SPAN}-00`)?.traceFlags).toBe(0);
  });

  it('accepts a future version with extra fields', () => {
    expect(parseTraceparent(`01-${TRACE}-${SPAN}-01-whatever`)?.spanId).toBe(SPAN);
  });

  const invalid: Array<[string, string | undefined]> = [
    ['absent', undefined],
    ['empty', ''],
    ['version ff', `ff-${TRACE}-${SPAN}-01`],
    ['extra field on version 00', `00-${TRACE}-${SPAN}-01-x`],
    ['all-zero trace id', `00-${'0'.repeat(32)}-${SPAN}-01`],
    ['all-zero span id', `00-${TRACE}-${'0'.repeat(16)}-01`],
    ['upper-case hex', `00-${TRACE.toUpperCase()}-${SPAN}-01`],
    ['short trace id', `00-${TRACE.slice(1)}-${SPAN}-01`],
    ['not hex', `00-${'g'.repeat(32)}-${SPAN}-01`],
  ];
  it.each(invalid)('ignores %s (a new trace starts)', (_name, value) => {
    expect(parseTraceparent(value)).toBeUndefined();
  });

  it('round-trips with formatTraceparent', () => {
    const p = parseTraceparent(formatTraceparent(TRACE, SPAN, 1));
    expect([p?.traceId, p?.spanId, p?.traceFlags]).toEqual([TRACE, SPAN, 1]);
  });
});

describe('leadingStringField', () => {
  const field1 = (s: string, rest: number[] = []) => {
    const bytes = Buffer.from(s);
    const len = bytes.length < 0x80 ? [bytes.length] : [(bytes.length & 0x7f) | 0x80, bytes.length >> 7];
    return new Uint8Array([0x0a, ...len, ...bytes, ...rest]);
  };

  it('reads the container id of a Task request', () => {
    expect(leadingStringField(field1('redis-1', [0x12, 0x01, 0x41]))).toBe('redis-1');
  });

  it('reads an id whose length needs two varint bytes', () => {
    const id = 'c'.repeat(200);
    expect(leadingStringField(field1(id))).toBe(id);
  });

  it('reads from a view into a larger buffer', () => {
    const outer = new Uint8Array([9, 9, ...field1('abc')]);
    expect(leadingStringField(outer.subarray(2))).toBe('abc');
  });

  const none: Array<[string, Uint8Array]> = [
    ['empty payload', new Uint8Array(0)],
    ['field 2 first', new Uint8Array([0x12, 0x01, 0x41])],
    ['varint field 1', new Uint8Array([0x08, 0x01])],
    ['truncated string', new Uint8Array([0x0a, 0x05, 0x41])],
    ['empty id', new Uint8Array([0x0a, 0x00])],
    ['unterminated varint', new Uint8Array([0x0a, 0x80])],
  ];
  it.each(none)('gives nothing for %s', (_name, payload) => {
    expect(leadingStringField(payload)).toBeUndefined();
  });
});
