// Regression (issue 11 item 5): a request that does not decode was recognised only by a regex on
// protobufjs's message text, so any wording it did not know became Unknown on the wire. unary()
// now turns every decode failure into InvalidArgument where the decode happens.
import { describe, expect, test } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { containerd, google } from '../../src/proto';
import { unary } from '../../src/shim/unary';
import { toStatus, type CallContext } from '../../src/ttrpc';

const ctx: CallContext = { service: 'containerd.task.v2.Task', method: 'Create', metadata: new Map(), signal: new AbortController().signal };

async function statusOf(p: Promise<unknown>) {
  try {
    await p;
  } catch (err) {
    return { status: toStatus(err), coded: err instanceof CodedError };
  }
  throw new Error('expected a rejection');
}

describe('unary()', () => {
  const handler = unary(containerd.task.v2.CreateTaskRequest, google.protobuf.Empty, async () => ({}));

  test.each([
    ['a truncated length-delimited field', [0x0a, 0x09, 0x41]],
    ['an invalid wire type', [0x0f]],
    ['a varint that never ends', [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]],
    ['a string field that is not UTF-8-sized', [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]],
  ])('%s is a coded InvalidArgument naming the method', async (_what, bytes) => {
    const { status, coded } = await statusOf(handler(new Uint8Array(bytes), ctx));
    expect(coded).toBe(true);
    expect(status.code).toBe(Code.InvalidArgument);
    expect(status.message).toContain('containerd.task.v2.Task/Create');
  });

  test('an error thrown by the method itself keeps its own code (not rewritten as a decode failure)', async () => {
    const failing = unary(containerd.task.v2.CreateTaskRequest, google.protobuf.Empty, async () => {
      throw new CodedError(Code.NotFound, 'no such bundle');
    });
    const { status } = await statusOf(failing(containerd.task.v2.CreateTaskRequest.encode({ id: 'c1' }).finish(), ctx));
    expect(status).toEqual({ code: Code.NotFound, message: 'no such bundle' });
  });
});
