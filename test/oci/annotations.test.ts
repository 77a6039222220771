import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { classifyContainer, inheritAnnotations, parseAnnotations, readEnvHints } from '../../src/oci';

const P = 'org.openeuler.micrun.';

describe('parseAnnotations', () => {
  test('parses every known key', () => {
    const a = parseAnnotations({
      [`${P}container.firmware_path`]: '/fw/app.elf',
      [`${P}container.firmware_hash`]: `sha256:${'AB'.repeat(32)}`,
      [`${P}container.min_memory_mb`]: '64',
      [`${P}container.max_vcpu_num`]: '4',
      [`${P}container.debug`]: 'true',
      [`${P}ped.pedestal`]: 'xen',
      [`${P}ped.conf`]: '/image.bin',
      'io.kubernetes.cri.container-type': 'container',
      'unrelated.key': 'anything',
    });
    expect(a).toEqual({
      firmwarePath: '/fw/app.elf',
      firmwareSha256: 'ab'.repeat(32),
      minMemoryMiB: 64,
      maxVcpus: 4,
      debug: true,
      pedestal: 'xen',
      pedestalConfig: '/image.bin',
      ignored: [],
    });
  });

  test.each([
    ['container.firmware_hash', 'abc'],
    ['container.min_memory_mb', '0'],
    ['container.min_memory_mb', '64M'],
    ['container.min_memory_mb', '99999999'],
    ['container.max_vcpu_num', '-1'],
    ['container.debug', 'maybe'],
    ['ped.pedestal', 'kvm'],
    ['container.firmware_path', ''],
  ])('bad value %s=%s is InvalidArgument naming the key', (key, value) => {
    expect(() => parseAnnotations({ [P + key]: value })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining(P + key) }),
    );
  });

  test('an unknown key under our prefix is an error naming it (typos are not ignored)', () => {
    expect(() => parseAnnotations({ [`${P}container.firmwre_path`]: '/x.elf' })).toThrow(/unknown annotation org\.openeuler\.micrun\.container\.firmwre_path/);
  });

  test('Go micrun keys without meaning here are accepted and reported', () => {
    const a = parseAnnotations({ [`${P}container.auto_close_timeout`]: '0', [`${P}compatibility.board`]: 'x' });
    expect(a.ignored.map((i) => i.key).sort()).toEqual([`${P}compatibility.board`, `${P}container.auto_close_timeout`]);
  });
});

describe('classifyContainer', () => {
  test('no CRI annotation: a single container is its own sandbox', () => {
    expect(classifyContainer({}, 'c1')).toEqual({ kind: 'single', sandboxId: 'c1' });
  });
  test('sandbox: the infra (pause) container', () => {
    expect(classifyContainer({ 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'p1' }, 'p1')).toEqual({ kind: 'infra', sandboxId: 'p1' });
  });
  test('container: a pod container in the named sandbox', () => {
    expect(classifyContainer({ 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'p1' }, 'c2')).toEqual({ kind: 'pod', sandboxId: 'p1' });
  });
  test('a pod container without sandbox id is InvalidArgument', () => {
    expect(() => classifyContainer({ 'io.kubernetes.cri.container-type': 'container' }, 'c2')).toThrow(/io\.kubernetes\.cri\.sandbox-id is missing/);
  });
  test('another container-type value is InvalidArgument naming it', () => {
    expect(() => classifyContainer({ 'io.kubernetes.cri.container-type': 'podsandbox' }, 'c')).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining('"podsandbox"') }),
    );
  });
});

test('inheritAnnotations: pod containers get the sandbox micrun keys, their own win', () => {
  const merged = inheritAnnotations(
    { [`${P}ped.pedestal`]: 'xen', [`${P}container.os`]: 'zephyr', 'io.kubernetes.cri.container-type': 'sandbox' },
    { [`${P}container.os`]: 'uniproton', 'io.kubernetes.cri.container-type': 'container' },
  );
  expect(merged).toEqual({ [`${P}ped.pedestal`]: 'xen', [`${P}container.os`]: 'uniproton', 'io.kubernetes.cri.container-type': 'container' });
});

test('container.os (the Go micrun key) is accepted and reported as ignored, whatever its value (issue 11: it was validated and never used)', () => {
  for (const value of ['zephyr', 'linux']) {
    const a = parseAnnotations({ [`${P}container.os`]: value });
    expect(a).toEqual({ ignored: [{ key: `${P}container.os`, reason: expect.stringContaining('runs the ELF as it is') }] });
  }
});

test('readEnvHints exposes MICRUN_* image Env; MICRUN_OS / MICRUN_MACHINE are not interpreted', () => {
  const h = readEnvHints(['PATH=/bin', 'MICRUN_OS=zephry', 'MICRUN_MACHINE=mps2-an385', 'MICRUN_X=a=b', 'BROKEN']);
  expect(h).toEqual({ all: { MICRUN_OS: 'zephry', MICRUN_MACHINE: 'mps2-an385', MICRUN_X: 'a=b' } });
  expect(readEnvHints(['MICRUN_PEDESTAL=xen']).pedestal).toBe('xen');
});

test.each([
  ['MICRUN_PEDESTAL=kvm', 'MICRUN_PEDESTAL'],
])('a bad image Env hint %s is InvalidArgument naming it', (entry, name) => {
  expect(() => readEnvHints([entry])).toThrow(expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining(name) }));
});
