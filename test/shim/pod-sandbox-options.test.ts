// containerd 2.x shim sandboxer: the pod's settings come from the CRI PodSandboxConfig in
// CreateSandbox's options, filtered by our prefix as `pod_annotations` filters them on 1.6/1.7.
import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { google, runtime } from '../../src/proto';
import { podSandboxAnnotations } from '../../src/shim/pod-sandbox-options';

const config = (annotations: Record<string, string>, typeUrl = 'runtime.v1.PodSandboxConfig') =>
  google.protobuf.Any.create({
    type_url: typeUrl,
    value: runtime.v1.PodSandboxConfig.encode({ metadata: { name: 'p', uid: 'u', namespace: 'default', attempt: 0 }, labels: { app: 'p' }, annotations }).finish(),
  });

describe('podSandboxAnnotations', () => {
  test('keeps only org.openeuler.micrun.* annotations of the PodSandboxConfig', () => {
    const options = config({ 'org.openeuler.micrun.container.min_memory_mb': '40', 'kubernetes.io/config.seen': 'x', 'org.openeuler.micrunx': 'y' });
    expect(podSandboxAnnotations(options, {})).toEqual({ 'org.openeuler.micrun.container.min_memory_mb': '40' });
  });

  test.each(['runtime.v1.PodSandboxConfig', 'type.googleapis.com/runtime.v1.PodSandboxConfig', 'k8s.io/cri-api/pkg/apis/runtime/v1.PodSandboxConfig'])(
    'type URL %s is a PodSandboxConfig',
    (typeUrl) => {
      expect(podSandboxAnnotations(config({ 'org.openeuler.micrun.a': '1' }, typeUrl), {})).toEqual({ 'org.openeuler.micrun.a': '1' });
    },
  );

  test('the request annotations field wins over the options; no options → the field alone', () => {
    const options = config({ 'org.openeuler.micrun.a': 'from-config', 'org.openeuler.micrun.b': '2' });
    expect(podSandboxAnnotations(options, { 'org.openeuler.micrun.a': 'from-field' })).toEqual({
      'org.openeuler.micrun.a': 'from-field',
      'org.openeuler.micrun.b': '2',
    });
    expect(podSandboxAnnotations(undefined, { k: 'v' })).toEqual({ k: 'v' });
  });

  test('options of another type carry no pod settings', () => {
    expect(podSandboxAnnotations(google.protobuf.Any.create({ type_url: 'runtimeoptions.v1.Options', value: new Uint8Array([0x12, 0x01, 0x2f]) }), {})).toEqual({});
  });

  test('a PodSandboxConfig that does not decode is InvalidArgument', () => {
    const bad = google.protobuf.Any.create({ type_url: 'runtime.v1.PodSandboxConfig', value: new Uint8Array([0x3a, 0x7f]) });
    expect(() => podSandboxAnnotations(bad, {})).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
  });
});
