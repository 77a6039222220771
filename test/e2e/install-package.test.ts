// From a package to a working node, with the installed binaries only: `npm pack` (of the built
// tree, scripts off so the repository is not rebuilt under other tests), `npm install -g` of the
// tarball into a temp prefix (npm runs our install script: the addon and the shim launcher are
// built there), then the installed `micrun install` links the shim for a private containerd whose
// PATH holds no repository binary, the installed micad-sim runs the firmware, the installed
// `micrun image build` makes the image, `ctr run -d` runs it, and the installed `micrun doctor`
// reports the node healthy — and broken once micad-sim is gone.
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { version } from '../../package.json';
import { repoRoot, startContainerd, taskStatus, type Containerd } from './harness/containerd';
import { shimDaemons } from './harness/leftovers';
import { firmwarePath, startMicadSim, type MicadSim } from './harness/micad-sim';
import { run, waitFor } from './harness/processes';

const work = mkdtempSync(path.join(tmpdir(), 'micrun-pkg-'));
const prefix = path.join(work, 'prefix');
const installedRoot = path.join(prefix, 'lib', 'node_modules', 'micrun');
const installedBin = path.join(prefix, 'bin');
/** PATH of every installed-binary call: the prefix, then the system; no repository directory. */
const PATH = `${installedBin}:/usr/sbin:/usr/bin:/sbin:/bin`;
const IMAGE = 'docker.io/micrun-test/echo:package';
let sim: MicadSim | undefined;
let ctd: Containerd | undefined;

const installed = (cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}) =>
  run(path.join(installedBin, cmd), args, { env: { HOME: process.env.HOME, PATH, ...env }, timeoutMs: 120_000 });

beforeAll(async () => {
  const packed = await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], { timeoutMs: 120_000 });
  expect(packed.stderr).toBe('');
  const tarball = path.join(work, `micrun-${version}.tgz`);
  expect(statSync(tarball).isFile()).toBe(true);
  const npmInstall = await run('npm', ['install', '-g', '--prefix', prefix, '--no-audit', '--no-fund', tarball], { timeoutMs: 600_000 });
  if (npmInstall.code !== 0) throw new Error(`npm install -g ${tarball} exited ${npmInstall.code}:\n${npmInstall.stdout}${npmInstall.stderr}`);
}, 700_000);

afterAll(async () => {
  try {
    await ctd?.destroy();
  } finally {
    await sim?.stop();
    rmSync(work, { recursive: true, force: true });
  }
}, 60_000);

test('npm install -g puts the three binaries on PATH and builds the addon and the shim launcher for this machine', async () => {
  expect(readdirSync(installedBin).sort()).toEqual(['containerd-shim-mica-v2', 'micad-sim', 'micrun']);
  for (const name of readdirSync(installedBin)) {
    expect(path.resolve(installedBin, readlinkSync(path.join(installedBin, name))).startsWith(installedRoot)).toBe(true);
  }
  expect(statSync(path.join(installedRoot, 'native', 'build', 'Release', 'libmica.node')).isFile()).toBe(true);
  // The launcher in dist/ is the one the install script built, not the packer's copy.
  expect(readFileSync(path.join(installedRoot, 'dist', 'containerd-shim-mica-v2'))).toEqual(
    readFileSync(path.join(installedRoot, 'native', 'build', 'Release', 'containerd-shim-mica-v2')),
  );
  expect((await installed('micrun', ['version'])).stdout).toBe(`micrun ${version}\n`);
}, 60_000);

test('installed binaries only: micrun install, micad-sim, image build, ctr run -d, doctor healthy then broken', async () => {
  const ctdDir = mkdtempSync(path.join(tmpdir(), 'micrun-pkg-ctd-'));
  const nodeConfig = path.join(work, 'containerd-config.toml');
  const micrunConfig = path.join(work, 'micrun.toml');
  const setup = await installed('micrun', ['install', '--containerd-config', nodeConfig, '--bin-dir', path.join(ctdDir, 'bin'), '--micrun-config', micrunConfig]);
  expect(setup.stderr).toContain('linked');
  expect(setup.code).toBe(0);
  expect(readlinkSync(path.join(ctdDir, 'bin', 'containerd-shim-mica-v2'))).toBe(path.join(installedRoot, 'dist', 'containerd-shim-mica-v2'));

  sim = await startMicadSim({ binary: path.join(installedBin, 'micad-sim') });
  const env = { MICRUN_CONFIG: micrunConfig, MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: path.join(work, 'state') };
  ctd = await startContainerd({ dir: ctdDir, linkRepoBinaries: false, env: { ...env, PATH } });

  const archive = path.join(work, 'echo.tar');
  const built = await installed('micrun', ['image', 'build', '--firmware', firmwarePath('echo'), '--name', IMAGE, '-o', archive]);
  expect(built.code).toBe(0);
  expect((await ctd.ctr(['image', 'import', archive])).code).toBe(0);
  const ran = await ctd.ctr(['run', '-d', '--runtime', 'io.containerd.mica.v2', IMAGE, 'pkg-echo']);
  expect(ran.stderr).toBe('');
  await waitFor(async () => (await taskStatus(ctd!, 'pkg-echo')) === 'RUNNING', { what: 'pkg-echo RUNNING', timeoutMs: 60_000 });
  // The daemon serving it runs the installed code: it mapped the installed addon.
  const [daemon] = shimDaemons(ctd.shimSocketDir);
  expect(readFileSync(`/proc/${daemon}/maps`, 'utf8')).toContain(path.join(installedRoot, 'native', 'build', 'Release', 'libmica.node'));

  const doctorArgs = ['doctor', '--containerd-config', nodeConfig, '--containerd', '/usr/bin/containerd'];
  const healthy = await installed('micrun', doctorArgs, env);
  console.log(`micrun doctor on a healthy node:\n${healthy.stdout}`);
  expect(healthy.code).toBe(0);
  expect(healthy.stdout).toMatch(/^ok {3}micad {14}answers at .*: pkg-echo Running$/m);
  expect(healthy.stdout).toMatch(/^info micad-sim /m);

  await ctd.ctr(['task', 'kill', 'pkg-echo']);
  await waitFor(async () => (await taskStatus(ctd!, 'pkg-echo')) === 'STOPPED', { what: 'pkg-echo STOPPED', timeoutMs: 30_000 });
  expect((await ctd.ctr(['task', 'delete', 'pkg-echo'])).code).toBe(0);
  expect((await ctd.ctr(['container', 'rm', 'pkg-echo'])).code).toBe(0);

  await sim.stop();
  sim = undefined;
  const broken = await installed('micrun', doctorArgs, env);
  console.log(`micrun doctor with micad-sim stopped:\n${broken.stdout}`);
  expect(broken.code).toBe(1);
  expect(broken.stdout).toMatch(/^FAIL micad .*\n.* fix: start micad/m);
}, 300_000);
