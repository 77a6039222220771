// `micrun install` / `micrun uninstall` through the CLI entry, on temp paths: what install adds
// (config block + backup, shim link, default micrun config), that a second run changes nothing,
// that uninstall removes exactly that and leaves what others made, the restart advice and
// --restart (a recording `systemctl` stub on PATH: tests never restart a real containerd).
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { bin } from '../../package.json';
import { main } from '../../src/cli';

const repoRoot = path.resolve(__dirname, '../..');
const shipped = (p: string) => path.join(repoRoot, p);
const ORIGINAL = `# my node's containerd — keep me
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
`;

let dir: string;
let paths: { config: string; bin: string; micrun: string; stubLog: string; stubDir: string };
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'micrun-install-'));
  paths = {
    config: path.join(dir, 'etc', 'containerd', 'config.toml'),
    bin: path.join(dir, 'bin'),
    micrun: path.join(dir, 'etc', 'mica', 'micrun', 'config.toml'),
    stubDir: path.join(dir, 'stub'),
    stubLog: path.join(dir, 'systemctl.log'),
  };
  mkdirSync(path.dirname(paths.config), { recursive: true });
  writeFileSync(paths.config, ORIGINAL);
  // A systemctl that records its arguments; exits 1 when told so through a file.
  mkdirSync(paths.stubDir);
  writeFileSync(
    path.join(paths.stubDir, 'systemctl'),
    `#!/bin/sh\necho "$@" >> ${paths.stubLog}\n[ -e ${dir}/fail-restart ] && { echo "Unit containerd.service not found." >&2; exit 5; }\nexit 0\n`,
  );
  chmodSync(path.join(paths.stubDir, 'systemctl'), 0o755);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function micrun(...argv: string[]) {
  let stdout = '';
  let stderr = '';
  const env = { PATH: `${paths.stubDir}:/usr/bin:/bin`, MICRUN_CONFIG: '' };
  const code = await main(argv, { stdout: (s) => void (stdout += s), stderr: (s) => void (stderr += s), env });
  return { code, stdout, stderr };
}
const flags = () => ['--containerd-config', paths.config, '--bin-dir', paths.bin, '--micrun-config', paths.micrun, '--containerd', '/usr/bin/containerd'];

describe('micrun install', () => {
  test('adds the runtime (backup kept), links the shim, writes the default micrun config, asks for a restart', async () => {
    const r = await micrun('install', ...flags());
    expect(r.code).toBe(0);
    const config = readFileSync(paths.config, 'utf8');
    expect(config.startsWith(ORIGINAL)).toBe(true);
    expect(config).toContain('[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]');
    expect(readFileSync(`${paths.config}.micrun.bak`, 'utf8')).toBe(ORIGINAL);
    const link = path.join(paths.bin, 'containerd-shim-mica-v2');
    expect(readlinkSync(link)).toBe(shipped(bin['containerd-shim-mica-v2']));
    expect(readFileSync(paths.micrun, 'utf8')).toBe(readFileSync(shipped('configs/config.toml'), 'utf8'));
    expect(r.stderr).toContain('containerd must be restarted');
    expect(existsSync(paths.stubLog)).toBe(false);
  });

  test('a second run changes nothing and says no restart is needed', async () => {
    await micrun('install', ...flags());
    const before = { config: readFileSync(paths.config, 'utf8'), mtime: statSync(paths.config).mtimeMs, bak: readFileSync(`${paths.config}.micrun.bak`, 'utf8') };
    const r = await micrun('install', ...flags());
    expect(r.code).toBe(0);
    expect(readFileSync(paths.config, 'utf8')).toBe(before.config);
    expect(statSync(paths.config).mtimeMs).toBe(before.mtime);
    expect(readFileSync(`${paths.config}.micrun.bak`, 'utf8')).toBe(before.bak);
    expect(r.stderr).toContain('containerd need not be restarted');
  });

  test('--restart restarts containerd with systemctl when the config changed, and only then', async () => {
    expect((await micrun('install', ...flags(), '--restart')).code).toBe(0);
    expect(readFileSync(paths.stubLog, 'utf8')).toBe('restart containerd\n');
    expect((await micrun('install', ...flags(), '--restart')).code).toBe(0);
    expect(readFileSync(paths.stubLog, 'utf8')).toBe('restart containerd\n');
  });

  test('a failed restart is an error naming systemctl’s complaint', async () => {
    writeFileSync(path.join(dir, 'fail-restart'), '');
    const r = await micrun('install', ...flags(), '--restart');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('systemctl restart containerd failed (Unit containerd.service not found.)');
  });

  test('no containerd config yet: writes one in the format of the given containerd', async () => {
    rmSync(paths.config);
    expect((await micrun('install', ...flags())).code).toBe(0);
    expect(readFileSync(paths.config, 'utf8')).toMatch(/^version = 2$/m);
    expect(existsSync(`${paths.config}.micrun.bak`)).toBe(false);
    expect((await micrun('uninstall', ...flags())).code).toBe(0);
    expect(existsSync(paths.config)).toBe(false);
  });

  test('another file where the shim link goes: refused, exit 1, nothing changed', async () => {
    mkdirSync(paths.bin);
    writeFileSync(path.join(paths.bin, 'containerd-shim-mica-v2'), '#!/bin/sh\n');
    const r = await micrun('install', ...flags());
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('exists and is not this micrun');
    expect(readFileSync(paths.config, 'utf8')).toBe(ORIGINAL);
    expect(existsSync(paths.micrun)).toBe(false);
  });

  test('an existing micrun config is kept', async () => {
    mkdirSync(path.dirname(paths.micrun), { recursive: true });
    writeFileSync(paths.micrun, '[mica]\nsocket_dir = "/run/mica-board"\n');
    await micrun('install', ...flags());
    expect(readFileSync(paths.micrun, 'utf8')).toBe('[mica]\nsocket_dir = "/run/mica-board"\n');
  });

  test.each([
    [['install', 'extra'], 'unexpected argument "extra"'],
    [['install', '--bogus'], 'unknown flag --bogus'],
    [['uninstall', '--bin-dir'], '--bin-dir needs a value'],
  ])('usage error %j → exit 2 with the install usage', async (argv, message) => {
    const r = await micrun(...argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('usage: micrun install|uninstall');
  });
});

describe('micrun uninstall', () => {
  test('removes exactly what install added: the config bytes, link and default config are as before', async () => {
    await micrun('install', ...flags());
    const r = await micrun('uninstall', ...flags());
    expect(r.code).toBe(0);
    expect(readFileSync(paths.config, 'utf8')).toBe(ORIGINAL);
    expect(existsSync(path.join(paths.bin, 'containerd-shim-mica-v2'))).toBe(false);
    expect(existsSync(paths.micrun)).toBe(false);
    expect(r.stderr).toContain('containerd must be restarted');
    // And again: nothing left to remove.
    const again = await micrun('uninstall', ...flags());
    expect(again.stderr).toContain('containerd need not be restarted');
    expect(readFileSync(paths.config, 'utf8')).toBe(ORIGINAL);
  });

  test("keeps a micrun config edited after install and a shim link install did not make (npm's relative link)", async () => {
    await micrun('install', ...flags());
    writeFileSync(paths.micrun, `${readFileSync(paths.micrun, 'utf8')}# tuned\n`);
    const link = path.join(paths.bin, 'containerd-shim-mica-v2');
    rmSync(link);
    symlinkSync(path.relative(paths.bin, shipped(bin['containerd-shim-mica-v2'])), link);
    const r = await micrun('uninstall', ...flags());
    expect(r.code).toBe(0);
    expect(existsSync(paths.micrun)).toBe(true);
    expect(readlinkSync(link)).not.toMatch(/^\//);
    expect(r.stderr).toContain('micrun install did not create it');
  });
});
