// OCI hooks: micrun runs none (an RTOS task's pid is a host process, see src/oci/hooks.ts), but
// reads them so that a malformed hooks field fails Create by name and each skipped hook is logged.
import { describe, expect, test } from 'vitest';
import { HOOK_POLICY, HOOK_TYPES, readHooks, reportSkippedHooks } from '../../src/oci/hooks';
import { parseSpec } from '../../src/oci/spec';
import { Code, CodedError } from '../../src/errors';

/** The hooks nerdctl puts in every spec: its own binary, `internal oci-hook <event>` (JSON keys of runtime-spec). */
const NERDCTL_HOOKS = {
  createRuntime: [{ path: '/usr/local/bin/nerdctl', args: ['/usr/local/bin/nerdctl', 'internal', 'oci-hook', 'createRuntime'], env: ['NERDCTL_TOML=x'] }],
  poststop: [{ path: '/usr/local/bin/nerdctl', args: ['/usr/local/bin/nerdctl', 'internal', 'oci-hook', 'postStop'] }],
};

describe('readHooks', () => {
  test("nerdctl's createRuntime and postStop hooks are read in order", () => {
    expect(readHooks(NERDCTL_HOOKS, 'f')).toEqual([
      { type: 'createRuntime', path: '/usr/local/bin/nerdctl' },
      { type: 'poststop', path: '/usr/local/bin/nerdctl' },
    ]);
  });

  test('no hooks, null and empty lists are none', () => {
    expect(readHooks(undefined, 'f')).toEqual([]);
    expect(readHooks({ prestart: null, poststart: [] }, 'f')).toEqual([]);
  });

  test.each([
    [[], 'hooks must be an object'],
    [{ postStop: [] }, 'hooks.postStop is not an OCI hook type'],
    [{ poststart: {} }, 'hooks.poststart must be an array'],
    [{ createRuntime: [{ args: ['x'] }] }, 'hooks.createRuntime[0].path must be an absolute path'],
    [{ createRuntime: [{ path: 'nerdctl' }] }, 'hooks.createRuntime[0].path must be an absolute path'],
  ])('malformed %j → InvalidArgument naming the field', (raw, message) => {
    let err: unknown;
    try {
      readHooks(raw, '/b/config.json');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe(Code.InvalidArgument);
    expect((err as CodedError).message).toBe(`OCI spec /b/config.json: ${message}${message.endsWith('type') ? ` (${HOOK_TYPES.join(', ')})` : ''}`);
  });
});

describe('reportSkippedHooks', () => {
  test('logs each hook with why it is not run; network-capable types name the host network namespace', () => {
    const lines: string[] = [];
    const hooks = readHooks({ prestart: [{ path: '/a' }], createRuntime: [{ path: '/b' }], poststop: [{ path: '/c' }] }, 'f');
    reportSkippedHooks(hooks, (fields, message) => lines.push(`${fields.hook} ${fields.path}: ${message}`));
    expect(lines).toEqual([
      `prestart /a: OCI prestart hook ${HOOK_POLICY.prestart}`,
      `createRuntime /b: OCI createRuntime hook ${HOOK_POLICY.createRuntime}`,
      `poststop /c: OCI poststop hook ${HOOK_POLICY.poststop}`,
    ]);
    for (const type of ['prestart', 'createRuntime'] as const) expect(HOOK_POLICY[type]).toContain("host's network namespace");
  });
});

test('parseSpec keeps the hooks of a nerdctl-shaped spec', () => {
  const spec = parseSpec(JSON.stringify({ ociVersion: '1.1.0', hooks: NERDCTL_HOOKS }), 'f');
  expect(spec.hooks.map((h) => h.type)).toEqual(['createRuntime', 'poststop']);
});
