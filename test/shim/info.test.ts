// `-info`: the RuntimeInfo containerd 2.x decodes before creating a task with idmapped mounts.
import { describe, expect, test } from 'vitest';
import { containerd, google, runtimeoptions } from '../../src/proto';
import { runtimeInfo, RUNTIME_NAME } from '../../src/shim/info';
import { FEATURES_TYPE_URL } from '../../src/shim/runtime-features';

const decode = (bytes: Uint8Array) => containerd.types.RuntimeInfo.decode(bytes);
const features = (bytes: Uint8Array) => {
  const info = decode(bytes);
  expect(info.features?.type_url).toBe(FEATURES_TYPE_URL);
  return JSON.parse(Buffer.from(info.features!.value!).toString('utf8'));
};

describe('runtimeInfo', () => {
  test('names the runtime and its version', () => {
    const info = decode(runtimeInfo('1.2.3'));
    expect(info.name).toBe(RUNTIME_NAME);
    expect(info.version?.version).toBe('1.2.3');
  });

  test('Features has the fields of `runc features`; idmap mounts are passed on to Create (which refuses them) and listed as unsupported', () => {
    const doc = features(runtimeInfo('1.2.3'));
    expect(doc).toMatchObject({ ociVersionMin: '1.0.0', hooks: [], mountOptions: [] });
    expect(doc.ociVersionMax).toMatch(/^1\.\d+\.\d+$/);
    // containerd 2.x's supportsIDMapMounts reads exactly this path; true lets the spec reach our
    // Create, whose refusal containerd cleans up after (its own refusal leaks the shim on 2.1.9).
    expect(doc.linux.mountExtensions.idmap.enabled).toBe(true);
    expect(doc.linux.seccomp.enabled).toBe(false);
    expect(doc.linux.namespaces).toEqual([]);
    expect(doc.annotations['org.openeuler.micrun.version']).toBe('1.2.3');
    expect(doc.annotations['org.openeuler.micrun.unsupported']).toContain('idmap mounts');
  });

  test('the options read on stdin are echoed back', () => {
    const value = runtimeoptions.v1.Options.encode({ configPath: '/etc/mica/micrun/xen.toml' }).finish();
    const stdin = google.protobuf.Any.encode({ type_url: 'runtimeoptions.v1.Options', value }).finish();
    const info = decode(runtimeInfo('1', stdin));
    expect(info.options?.type_url).toBe('runtimeoptions.v1.Options');
    expect(runtimeoptions.v1.Options.decode(info.options!.value!).configPath).toBe('/etc/mica/micrun/xen.toml');
    expect(decode(runtimeInfo('1')).options).toBeFalsy();
  });

  test('options start would refuse are refused by -info with the same message', () => {
    const value = runtimeoptions.v1.Options.encode({ configPath: 'relative.toml' }).finish();
    const stdin = google.protobuf.Any.encode({ type_url: 'runtimeoptions.v1.Options', value }).finish();
    expect(() => runtimeInfo('1', stdin)).toThrow(/config_path must be an absolute path/);
  });
});
