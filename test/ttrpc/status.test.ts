import { describe, expect, it } from 'vitest';
import { alreadyExists, CodedError, failedPrecondition, notFound, unimplemented } from '../../src/errors';
import { Code, fromStatus, toStatus, TtrpcError } from '../../src/ttrpc';

describe('toStatus: the one mapping from errors to wire status', () => {
  // The codes containerd's errgrpc.ToNative branches on. Changing any of them breaks containerd.
  it.each([
    ['NotFound', notFound('x'), 5],
    ['AlreadyExists', alreadyExists('x'), 6],
    ['FailedPrecondition', failedPrecondition('x'), 9],
    ['Unimplemented', unimplemented('x'), 12],
  ])('%s is code %i', (_name, err, code) => {
    expect(toStatus(err).code).toBe(code);
  });

  it('keeps a CodedError message', () => {
    expect(toStatus(notFound('process already finished: not found'))).toEqual({ code: 5, message: 'process already finished: not found' });
  });

  it('maps an aborted call to the code of its signal reason', () => {
    const ac = new AbortController();
    ac.abort(new CodedError(Code.DeadlineExceeded, 'deadline'));
    expect(toStatus(ac.signal.reason, ac.signal).code).toBe(Code.DeadlineExceeded);
  });

  it('maps AbortError to Cancelled and TimeoutError to DeadlineExceeded', () => {
    const ac = new AbortController();
    ac.abort();
    expect(toStatus(ac.signal.reason).code).toBe(Code.Cancelled);
    expect(toStatus(new DOMException('timed out', 'TimeoutError')).code).toBe(Code.DeadlineExceeded);
  });

  it('maps anything else to Unknown', () => {
    expect(toStatus(new Error('boom'))).toEqual({ code: Code.Unknown, message: 'boom' });
    expect(toStatus('a string').code).toBe(Code.Unknown);
    expect(toStatus(new TypeError('x is undefined')).code).toBe(Code.Unknown);
  });
});

describe('fromStatus', () => {
  it('builds a TtrpcError (a CodedError) with the received code', () => {
    const err = fromStatus({ code: 6, message: 'exists' });
    expect(err).toBeInstanceOf(TtrpcError);
    expect(err).toBeInstanceOf(CodedError);
    expect(err.code).toBe(Code.AlreadyExists);
    expect(err.message).toBe('exists');
  });
});
