import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { afterAll, describe, expect, it } from 'vitest';
import { ADDON_RELATIVE_PATH, findPackageRoot, loadAddonFrom } from '../../src/mica/addon';

const repo = resolve(__dirname, '../..');
const temps: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'micrun-addon-'));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

describe('addon loader', () => {
  it('finds the package root from src/ and through a symlinked directory', () => {
    expect(findPackageRoot(join(repo, 'src', 'mica'))).toBe(repo);
    const link = join(tempDir(), 'link');
    symlinkSync(join(repo, 'src', 'mica'), link);
    expect(findPackageRoot(link)).toBe(repo);
  });

  it('skips package.json files of other packages', () => {
    const d = tempDir();
    writeFileSync(join(d, 'package.json'), '{"name":"not-micrun"}');
    expect(() => findPackageRoot(d)).toThrow(/cannot find micrun's package.json above/);
  });

  it('says to run npm run build:native when the addon is missing', () => {
    const d = tempDir();
    writeFileSync(join(d, 'package.json'), '{"name":"micrun"}');
    expect(() => loadAddonFrom(d)).toThrow(/libmica native addon is missing .*npm run build:native/);
  });

  it('loads from a CommonJS bundle reached through a symlink on PATH', async () => {
    // Like dist/micad-sim.js linked from /usr/local/bin: the bundle lives in the package, the
    // symlink elsewhere. The package is a temp copy of micrun's shape (package.json, the addon
    // linked in), so the test writes nothing into the repository.
    const pkg = tempDir();
    writeFileSync(join(pkg, 'package.json'), '{"name":"micrun"}');
    mkdirSync(join(pkg, 'native', 'build', 'Release'), { recursive: true });
    symlinkSync(join(repo, ADDON_RELATIVE_PATH), join(pkg, ADDON_RELATIVE_PATH));
    const entry = join(tempDir(), 'entry.ts');
    writeFileSync(
      entry,
      `import { openPty } from ${JSON.stringify(join(repo, 'src/mica/pty'))};\n` +
        `const p = openPty(); console.log(p.path);\n`,
    );
    const outfile = join(pkg, 'dist', 'pty-check.js');
    await build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'cjs',
      external: ['*.node'],
      logLevel: 'silent',
    });
    const bin = join(tempDir(), 'pty-check');
    symlinkSync(outfile, bin);
    const out = execFileSync(process.execPath, [bin], { encoding: 'utf8', cwd: tmpdir() });
    expect(out.trim()).toMatch(/^\/dev\/pts\/\d+$/);
  });
});
