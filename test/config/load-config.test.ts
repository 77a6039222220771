import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { defaultConfig, loadConfig } from '../../src/config';

const dir = mkdtempSync(path.join(tmpdir(), 'micrun-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const file = (text: string) => {
  const p = path.join(dir, `config-${n++}.toml`);
  writeFileSync(p, text);
  return p;
};
const missing = path.join(dir, 'does-not-exist.toml');

describe('loadConfig', () => {
  test('no file at the default place → documented defaults', () => {
    // Guard: on a machine with a real /etc/mica/micrun/config.toml this test would mean nothing.
    expect(existsSync('/etc/mica/micrun/config.toml')).toBe(false);
    const config = loadConfig({ env: {} });
    expect(config.source).toBeUndefined();
    expect(config).toEqual({
      mica: { socket_dir: '/run/mica', timeout_ms: 5000, pedestal: '' },
      runtime: { state_dir: '/run/micrun', log_level: 'info', max_firmware_mib: 64 },
      resources: { default_memory_mib: 32, default_vcpus: 1, max_vcpus: 8 },
      shim: { bootstrap: 'address', grouping: 'namespace', when_empty: 'wait' },
      telemetry: { otlp_endpoint: '' },
    });
    expect(defaultConfig()).toEqual(config);
  });

  test('MICRUN_CONFIG names the file; every key is read', () => {
    const p = file(`
[mica]
socket_dir = "/tmp/sim"
timeout_ms = 1500
pedestal = "xen"
[runtime]
state_dir = "/var/run/micrun2"
log_level = "debug"
max_firmware_mib = 8
[resources]
default_memory_mib = 64
default_vcpus = 2
max_vcpus = 4
[shim]
bootstrap = "json-v3"
grouping = "namespace"
when_empty = "exit"
[telemetry]
otlp_endpoint = "http://127.0.0.1:4317"
`);
    expect(loadConfig({ env: { MICRUN_CONFIG: p } })).toEqual({
      mica: { socket_dir: '/tmp/sim', timeout_ms: 1500, pedestal: 'xen' },
      runtime: { state_dir: '/var/run/micrun2', log_level: 'debug', max_firmware_mib: 8 },
      resources: { default_memory_mib: 64, default_vcpus: 2, max_vcpus: 4 },
      shim: { bootstrap: 'json-v3', grouping: 'namespace', when_empty: 'exit' },
      telemetry: { otlp_endpoint: 'http://127.0.0.1:4317' },
      source: p,
    });
  });

  test('shim.grouping: MICRUN_SHIM_GROUPING wins over the file; an unknown grouping names the choices', () => {
    const p = file('[shim]\ngrouping = "namespace"\n');
    expect(loadConfig({ env: { MICRUN_SHIM_GROUPING: 'pod' }, path: p }).shim.grouping).toBe('pod');
    expect(() => loadConfig({ env: {}, path: file('[shim]\ngrouping = "node"\n') })).toThrow(/shim\.grouping must be one of "pod", "namespace"/);
    expect(() => loadConfig({ env: { MICRUN_SHIM_GROUPING: 'pods' } })).toThrow(/MICRUN_SHIM_GROUPING="pods" must be one of/);
  });

  test('every key is optional: a partial file keeps the other defaults', () => {
    const c = loadConfig({ env: {}, path: file('[resources]\nmax_vcpus = 2\n') });
    expect(c.resources).toEqual({ default_memory_mib: 32, default_vcpus: 1, max_vcpus: 2 });
    expect(c.mica.socket_dir).toBe('/run/mica');
  });

  test('env overrides win over the file', () => {
    const p = file('[mica]\nsocket_dir = "/from/file"\n[runtime]\nstate_dir = "/from/file"\nlog_level = "warn"\n');
    const c = loadConfig({
      path: p,
      env: { MICRUN_MICA_SOCKET_DIR: '/env/mica', MICRUN_STATE_DIR: '/env/state', MICRUN_LOG_LEVEL: 'trace', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4317' },
    });
    expect(c.mica.socket_dir).toBe('/env/mica');
    expect(c.runtime).toEqual({ state_dir: '/env/state', log_level: 'trace', max_firmware_mib: 64 });
    expect(c.telemetry.otlp_endpoint).toBe('http://otel:4317');
  });

  test('shim.bootstrap accepts only the three forms containerd understands', () => {
    expect(() => loadConfig({ env: {}, path: file('[shim]\nbootstrap = "json"\n') })).toThrow(
      /shim\.bootstrap must be one of "address", "json-v2", "json-v3", got "json"/,
    );
  });

  test('a bad env override names the variable', () => {
    expect(() => loadConfig({ path: file(''), env: { MICRUN_LOG_LEVEL: 'loud' } })).toThrow(/MICRUN_LOG_LEVEL="loud" must be one of/);
    expect(() => loadConfig({ env: { MICRUN_STATE_DIR: 'relative' } })).toThrow(/MICRUN_STATE_DIR/);
  });

  test('regression: the OTLP endpoint from the environment is checked like the config key', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
      expect(() => loadConfig({ path: file(''), env: { [name]: 'localhost:4317' } })).toThrow(
        expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining(`${name}="localhost:4317" must be an http:// or https:// URL`) }),
      );
    }
    // The traces-specific variable wins over the general one, as the OTel spec says.
    const c = loadConfig({ path: file(''), env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4317', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b:4317' } });
    expect(c.telemetry.otlp_endpoint).toBe('https://b:4317');
  });

  test.each([
    ['[mica]\nsocket_dri = "/x"\n', 'unknown key "mica.socket_dri"'],
    ['[Mica]\nsocket_dir = "/x"\n', 'unknown section "Mica"'],
    ['[Resource]\ncontainer_minmem = 64\n', 'unknown section "Resource"'],
    ['debug = true\n', 'unknown key "debug"'],
  ])('unknown keys and sections are errors naming the key and the file: %j', (text, message) => {
    const p = file(text);
    expect(() => loadConfig({ env: {}, path: p })).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining(message) }),
    );
    expect(() => loadConfig({ env: {}, path: p })).toThrow(p);
  });

  test.each([
    ['[mica]\ntimeout_ms = "5s"\n', 'mica.timeout_ms must be an integer'],
    ['[mica]\ntimeout_ms = 0\n', 'mica.timeout_ms must be an integer from 1'],
    ['[mica]\nsocket_dir = 5\n', 'mica.socket_dir must be an absolute path'],
    ['[mica]\npedestal = "kvm"\n', 'mica.pedestal must be one of'],
    ['[runtime]\nlog_level = "verbose"\n', 'runtime.log_level must be one of'],
    ['[runtime]\nmax_firmware_mib = 0\n', 'runtime.max_firmware_mib must be an integer from 1 to 4096'],
    ['[resources]\ndefault_memory_mib = 1.5\n', 'resources.default_memory_mib must be an integer'],
    ['[resources]\ndefault_vcpus = 4\nmax_vcpus = 2\n', 'resources.default_vcpus (4) is above resources.max_vcpus (2)'],
    ['mica = 3\n', '"mica" must be a section'],
    ['[mica\n', 'is not valid TOML'],
    ['[telemetry]\notlp_endpoint = "localhost:4317"\n', 'telemetry.otlp_endpoint must be an http:// or https:// URL'],
  ])('wrong types name the key: %j', (text, message) => {
    expect(() => loadConfig({ env: {}, path: file(text) })).toThrow(message);
  });

  test('a file named explicitly but missing is an error; the default path may be absent', () => {
    expect(() => loadConfig({ env: { MICRUN_CONFIG: missing } })).toThrow(/cannot read micrun config/);
    expect(() => loadConfig({ env: {}, path: missing })).toThrow(/cannot read micrun config/);
  });
});
