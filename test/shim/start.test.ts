// The parts of `start` that need no daemon: which group a bundle belongs to (containerd 2.x's shim
// sandboxer may give a bundle without config.json), the checks made before anything is bound, and
// reuse of a live daemon. Spawning the daemon is covered by test/e2e/shim-binary.test.ts.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { ShimArgs } from '../../src/shim/args';
import { socketPath } from '../../src/shim/socket-address';
import { rememberedConfigPath } from '../../src/shim/config-choice';
import { readAnnotations, runStart } from '../../src/shim/start';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-start-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function bundle(name: string, config?: string): string {
  const b = path.join(dir, name);
  mkdirSync(b, { recursive: true });
  if (config !== undefined) writeFileSync(path.join(b, 'config.json'), config);
  return b;
}

const args = (id: string, b: string): ShimArgs => ({
  namespace: 'ns',
  address: '/run/x/containerd.sock',
  publishBinary: '/bin/true',
  id,
  bundle: b,
  debug: false,
  socket: '',
  action: 'start',
});

describe('readAnnotations', () => {
  test('a bundle without config.json has no annotations (containerd 2.x sandbox bundle)', () => {
    expect(readAnnotations(bundle('none'))).toBeUndefined();
  });

  test('annotations of a present config.json are returned', () => {
    const pod = { 'io.kubernetes.cri.container-type': 'container', 'io.kubernetes.cri.sandbox-id': 'pod1' };
    expect(readAnnotations(bundle('pod', JSON.stringify({ ociVersion: '1.0.2', annotations: pod })))).toEqual(pod);
    expect(readAnnotations(bundle('plain', '{"ociVersion":"1.0.2"}'))).toBeUndefined();
  });

  test.each([
    ['invalid JSON', '{"ociVersion":', /config\.json.*JSON/],
    ['not an object', '[1,2]', /config\.json: not a JSON object/],
    ['annotations not an object', '{"annotations":"x"}', /"annotations" is not an object/],
  ])('a config.json with %s is an error naming the file', (_what, text, message) => {
    expect(() => readAnnotations(bundle('bad', text))).toThrow(message);
  });

  test('a config.json that cannot be read is an error, not "no annotations"', () => {
    const b = bundle('unreadable');
    mkdirSync(path.join(b, 'config.json')); // EISDIR: present but unreadable (root ignores modes)
    expect(() => readAnnotations(b)).toThrow(/cannot read .*config\.json/);
  });
});

describe('runStart before any daemon is spawned', () => {
  let live: net.Server | undefined;
  afterEach(async () => {
    await new Promise((r) => (live ? live.close(r) : r(undefined)));
    live = undefined;
  });

  test('a live daemon of the group is reused: its address is printed and written, nothing is bound', async () => {
    const root = path.join(dir, 's');
    mkdirSync(root, { mode: 0o700 });
    // Grouping pod and no config.json: the group is the container id.
    const sock = socketPath(root, '/run/x/containerd.sock', 'ns', 'c1');
    live = net.createServer();
    let accepted = 0;
    live.on('connection', (c) => {
      accepted++;
      c.destroy();
    });
    await new Promise<void>((r) => live!.listen(sock, r));
    const b = bundle('c1');
    const address = await runStart(args('c1', b), { MICRUN_SHIM_SOCKET_DIR: root, MICRUN_SHIM_GROUPING: 'pod' });
    expect(address).toBe(`unix://${sock}`);
    expect(readFileSync(path.join(b, 'address'), 'utf8')).toBe(address);
    expect(accepted).toBe(1); // the connect probe
    expect(readdirSync(root)).toEqual([path.basename(sock)]);
  });

  test('a bad config file fails start naming the key, before a socket is bound', async () => {
    const root = path.join(dir, 's');
    const cfg = path.join(dir, 'bad.toml');
    writeFileSync(cfg, '[mica]\nsocket_dri = "/x"\n');
    const b = bundle('c2', '{"ociVersion":"1.0.2"}');
    await expect(runStart(args('c2', b), { MICRUN_SHIM_SOCKET_DIR: root, MICRUN_CONFIG: cfg })).rejects.toThrow(/socket_dri/);
    expect(existsSync(root) ? readdirSync(root) : []).toEqual([]);
    expect(existsSync(path.join(b, 'address'))).toBe(false);
  });

  test('the runtime options choose the config: its bootstrap form is printed and the path is kept for delete', async () => {
    const root = path.join(dir, 's');
    mkdirSync(root, { mode: 0o700 });
    const sock = socketPath(root, '/run/x/containerd.sock', 'ns', 'c5');
    live = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => live!.listen(sock, r));
    const cfg = path.join(dir, 'xen.toml');
    writeFileSync(cfg, '[shim]\nbootstrap = "json-v3"\ngrouping = "pod"\n');
    const other = path.join(dir, 'env.toml');
    writeFileSync(other, '[shim]\nbootstrap = "json-v2"\ngrouping = "pod"\n');
    const b = bundle('c5');
    const printed = await runStart(args('c5', b), { MICRUN_SHIM_SOCKET_DIR: root, MICRUN_CONFIG: other }, { typeUrl: 'runtimeoptions.v1.Options', configPath: cfg });
    expect(JSON.parse(printed)).toEqual({ version: 3, address: `unix://${sock}`, protocol: 'ttrpc' });
    expect(readFileSync(path.join(b, 'address'), 'utf8')).toBe(`unix://${sock}`); // 1.6/1.7 re-read the bare address
    expect(rememberedConfigPath(b)).toBe(cfg);
    // Without options, $MICRUN_CONFIG applies and nothing is recorded.
    const b2 = bundle('c5b');
    const sock2 = socketPath(root, '/run/x/containerd.sock', 'ns', 'c5b');
    const live2 = net.createServer((c) => c.destroy());
    await new Promise<void>((r) => live2.listen(sock2, r));
    try {
      expect(JSON.parse(await runStart(args('c5b', b2), { MICRUN_SHIM_SOCKET_DIR: root, MICRUN_CONFIG: other })).version).toBe(2);
      expect(rememberedConfigPath(b2)).toBeUndefined();
    } finally {
      await new Promise((r) => live2.close(r));
    }
  });

  test('a ConfigPath option naming a missing file fails start naming the file, before a socket is bound', async () => {
    const root = path.join(dir, 's');
    const b = bundle('c6');
    const missing = path.join(dir, 'no-such.toml');
    await expect(runStart(args('c6', b), { MICRUN_SHIM_SOCKET_DIR: root }, { typeUrl: 'runtimeoptions.v1.Options', configPath: missing })).rejects.toThrow(
      new RegExp(`cannot read micrun config ${missing}`),
    );
    expect(existsSync(root)).toBe(false);
    expect(existsSync(path.join(b, 'address'))).toBe(false);
  });

  test('a bundle that cannot take the address file fails start before a socket is bound', async () => {
    const root = path.join(dir, 's');
    const gone = path.join(dir, 'no-such-bundle');
    await expect(runStart(args('c4', gone), { MICRUN_SHIM_SOCKET_DIR: root })).rejects.toThrow(/address/);
    expect(readdirSync(root)).toEqual([]);
  });

  test('an invalid config.json fails start before a socket is bound', async () => {
    const root = path.join(dir, 's');
    const b = bundle('c3', 'not json');
    await expect(runStart(args('c3', b), { MICRUN_SHIM_SOCKET_DIR: root })).rejects.toThrow(/config\.json/);
    expect(existsSync(root)).toBe(false);
  });
});
