import { describe, expect, test } from 'vitest';
import vectors from '../fixtures/socket-address-vectors.json';
import { groupId, NAMESPACE_GROUP, socketPath, socketRoot } from '../../src/shim/socket-address';

describe('shim socket address', () => {
  test('matches the worked example of containerd pkg/shim (shimv2-protocol.md §2.3)', () => {
    expect(socketPath('/run/containerd/s', '/run/containerd/containerd.sock', 'default', 'abc')).toBe(
      '/run/containerd/s/8cb244a719603fe00870d5ce1d8e1f1db43a654cb993d107df1f1ae23ddffa59',
    );
  });

  test('the joined path is cleaned like Go filepath.Join', () => {
    expect(socketPath('/s', '/run/containerd/containerd.sock/', 'default', 'abc')).toBe(
      socketPath('/s', '/run/containerd/containerd.sock', 'default', 'abc'),
    );
  });

  test('MICRUN_SHIM_SOCKET_DIR redirects the root; default is /run/containerd/s', () => {
    expect(socketRoot({ MICRUN_SHIM_SOCKET_DIR: '/tmp/x' })).toBe('/tmp/x');
    expect(socketRoot({})).toBe('/run/containerd/s');
  });

  test('CRI pod containers and the pod sandbox share the sandbox id; others use their own id', () => {
    const pod = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    const sandbox = { 'io.kubernetes.cri.container-type': 'sandbox', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    expect(groupId('app1', pod, { grouping: 'pod' })).toBe('pod1');
    expect(groupId('pod1', sandbox, { grouping: 'pod' })).toBe('pod1');
    expect(groupId('single', {}, { grouping: 'pod' })).toBe('single');
    expect(groupId('single', undefined, { grouping: 'pod' })).toBe('single');
  });

  test('grouping namespace: every container of the namespace, pods included, shares one group', () => {
    const pod = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    expect(groupId('app1', pod, { grouping: 'namespace' })).toBe(NAMESPACE_GROUP);
    expect(groupId('single', undefined, { grouping: 'namespace' })).toBe(NAMESPACE_GROUP);
    // A runtime handler naming its own config file (ConfigPath) gets a daemon running that config.
    expect(groupId('single', undefined, { grouping: 'namespace', configPath: '/etc/a.toml' })).not.toBe(
      groupId('single', undefined, { grouping: 'namespace', configPath: '/etc/b.toml' }),
    );
    // Another runtime binary (its own runtime type) never shares the namespace daemon.
    expect(groupId('single', undefined, { grouping: 'namespace', binary: 'containerd-shim-mica-v2' })).toBe(NAMESPACE_GROUP);
    expect(groupId('single', undefined, { grouping: 'namespace', binary: 'containerd-shim-micaxen-v2' })).not.toBe(NAMESPACE_GROUP);
    expect(groupId('app1', pod, { grouping: 'pod', configPath: '/etc/a.toml' })).toBe('pod1');
    // Different namespaces still get different daemons: the namespace is part of the hashed path.
    expect(socketPath('/s', '/a.sock', 'one', NAMESPACE_GROUP)).not.toBe(socketPath('/s', '/a.sock', 'two', NAMESPACE_GROUP));
  });

  // The same vectors drive the native launcher's test (test/e2e/shim-launcher.test.ts): both
  // paths must hand containerd the same address.
  test.each(vectors.cases)('shared vector: $what', (c) => {
    const annotations = (c.annotations ?? undefined) as Record<string, string> | undefined;
    const group = groupId(c.id, annotations, { grouping: c.grouping as 'pod' | 'namespace', binary: 'containerd-shim-mica-v2' });
    expect(socketPath('/root', c.address, c.namespace, group)).toBe(`/root/${c.socket}`);
  });
});
