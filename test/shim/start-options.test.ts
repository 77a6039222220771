// The runtime options on the stdin of `start`/`-info`: decoded by hand (start loads no protobuf
// library), so the bytes here are made with the generated codecs containerd's wire matches.
import { mkdtempSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { google, runtimeoptions } from '../../src/proto';
import { decodeStartOptions, readStdin, RUNTIME_OPTIONS_TYPE } from '../../src/shim/start-options';

const anyOf = (typeUrl: string, value: Uint8Array) => google.protobuf.Any.encode({ type_url: typeUrl, value }).finish();
const runtimeOptions = (o: { configPath?: string; configBody?: string; typeUrl?: string }, typeUrl = RUNTIME_OPTIONS_TYPE) =>
  anyOf(typeUrl, runtimeoptions.v1.Options.encode(o).finish());

describe('decodeStartOptions', () => {
  test('no bytes (containerd wrote nothing) means no options', () => {
    expect(decodeStartOptions(new Uint8Array())).toEqual({ typeUrl: '', configPath: '' });
  });

  test('runtimeoptions.v1.Options.config_path is the chosen config file', () => {
    expect(decodeStartOptions(runtimeOptions({ configPath: '/etc/mica/micrun/xen.toml' }))).toEqual({
      typeUrl: RUNTIME_OPTIONS_TYPE,
      configPath: '/etc/mica/micrun/xen.toml',
    });
  });

  test('a type URL with a host prefix names the same type; options without config_path choose nothing', () => {
    const bytes = runtimeOptions({ typeUrl: 'x' }, `type.googleapis.com/${RUNTIME_OPTIONS_TYPE}`);
    expect(decodeStartOptions(bytes).configPath).toBe('');
  });

  test('an empty Any is no options', () => {
    expect(decodeStartOptions(anyOf('', new Uint8Array())).configPath).toBe('');
  });

  test('options of another runtime choose nothing (containerd 2.x CRI sends runc options to every handler without an options table)', () => {
    expect(decodeStartOptions(anyOf('containerd.runc.v1.Options', new Uint8Array([0x08, 0x01])))).toEqual({
      typeUrl: 'containerd.runc.v1.Options',
      configPath: '',
    });
  });

  test.each([
    ['config_body', runtimeOptions({ configBody: '[runtime]\nlog_level = "debug"' }), /config_body is not supported.*ConfigPath/],
    ['a relative config_path', runtimeOptions({ configPath: 'xen.toml' }), /config_path must be an absolute path, got "xen\.toml"/],
    ['bytes that are not protobuf', new Uint8Array([0x0a, 0x7f, 0x41]), /not a valid protobuf options Any/],
    ['a truncated varint', new Uint8Array([0x0a, 0x80]), /not a valid protobuf/],
  ])('%s is InvalidArgument with what to change', (_what, bytes, message) => {
    let err: unknown;
    try {
      decodeStartOptions(bytes);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: Code.InvalidArgument });
    expect((err as Error).message).toMatch(message);
  });
});

describe('readStdin', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'micrun-stdin-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('reads a file (or pipe) to its end; /dev/null gives nothing', () => {
    const file = path.join(dir, 'opts');
    const bytes = runtimeOptions({ configPath: '/c.toml' });
    writeFileSync(file, bytes);
    const fd = openSync(file, 'r');
    try {
      expect(Buffer.from(readStdin(fd))).toEqual(Buffer.from(bytes));
    } finally {
      closeSync(fd);
    }
    const devNull = openSync('/dev/null', 'r');
    try {
      expect(readStdin(devNull)).toHaveLength(0);
    } finally {
      closeSync(devNull);
    }
  });
});
