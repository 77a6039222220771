// `micrun install` / `micrun uninstall` (root), like gVisor's `runsc install`: register the CRI
// runtime handler `micrun` in containerd's config (containerd-config.ts does the careful text
// edit), link the shim where containerd finds it, write a default micrun config if there is
// none, and say whether containerd must be restarted (`--restart` does it with systemctl).
//
// uninstall undoes exactly what install added, without a record file: the config block is
// delimited by markers; the shim link is removed only when it is a symlink whose text is the
// absolute path install writes (npm's own bin links are relative, so `npm install -g` under
// /usr/local keeps its link); the micrun config only while it is still byte-for-byte the default
// install wrote. Every changed containerd config is first copied to <file>.micrun.bak.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { version as packageVersion, bin } from '../../package.json';
import { DEFAULT_CONFIG_PATH } from '../config';
import { failedPrecondition } from '../errors';
import { findPackageRoot } from '../mica/addon';
import { containerdVersion } from './containerd-binary';
import { addMicrunRuntime, DEFAULT_CONTAINERD_CONFIG, configVersionFor, removeMicrunRuntime, type ConfigEdit } from './containerd-config';
import type { CommandIO } from './image-build';
import { parseFlags, UsageError } from './parse-flags';
import { which } from './which';

/** On systemd's default PATH, which containerd.service runs with. */
export const DEFAULT_BIN_DIR = '/usr/local/bin';
const SHIM = 'containerd-shim-mica-v2';

export const INSTALL_USAGE = `usage: micrun install|uninstall [options]   (as root)

install: registers the CRI runtime handler "micrun" (runtime_type io.containerd.mica.v2) in
containerd's config, keeping every other line as it was (backup: <config>.micrun.bak), links
containerd-shim-mica-v2 into --bin-dir (a link to this micrun's shim is kept), and writes a
default micrun config if there is none. Running it again changes nothing.
uninstall: removes exactly what install added.

  --containerd-config FILE  containerd's config (default ${DEFAULT_CONTAINERD_CONFIG})
  --bin-dir DIR             where to link the shim (default ${DEFAULT_BIN_DIR})
  --micrun-config FILE      micrun's config (default $MICRUN_CONFIG, else ${DEFAULT_CONFIG_PATH})
  --containerd FILE         containerd binary, to pick the format of a new config
                            (default: containerd on PATH)
  --restart                 restart containerd (systemctl restart containerd) when its config changed
`;

interface InstallOptions {
  containerdConfig: string;
  binDir: string;
  micrunConfig: string;
  containerd?: string;
  restart: boolean;
}

export function runInstall(action: 'install' | 'uninstall', argv: readonly string[], io: CommandIO): number {
  const opts = installOptions(argv, io.env);
  const root = findPackageRoot(moduleDir());
  const shim = path.resolve(root, bin[SHIM]);
  const say = (line: string) => io.stderr(`micrun ${action}: ${line}`);

  // Refuse before changing anything when the shim's place is taken by another file.
  if (action === 'install') checkShimLinkFree(shim, opts.binDir);
  const configChanged =
    action === 'install'
      ? editContainerdConfig(opts.containerdConfig, (text) => addMicrunRuntime(text, opts.containerdConfig, newConfigVersion(opts, io.env)), say)
      : editContainerdConfig(opts.containerdConfig, (text) => removeMicrunRuntime(text, opts.containerdConfig), say);
  if (action === 'install') {
    linkShim(shim, opts.binDir, io.env, say);
    writeDefaultMicrunConfig(path.join(root, 'configs', 'config.toml'), opts.micrunConfig, say);
  } else {
    unlinkShim(shim, opts.binDir, say);
    removeDefaultMicrunConfig(path.join(root, 'configs', 'config.toml'), opts.micrunConfig, say);
  }

  if (!configChanged) {
    say('containerd need not be restarted');
  } else if (opts.restart) {
    restartContainerd(io.env);
    say('restarted containerd (systemctl restart containerd)');
  } else {
    say('containerd must be restarted to load the change: systemctl restart containerd (or add --restart)');
  }
  return 0;
}

function installOptions(argv: readonly string[], env: NodeJS.ProcessEnv): InstallOptions {
  const flags = parseFlags(argv, [
    { name: 'containerd-config' },
    { name: 'bin-dir' },
    { name: 'micrun-config' },
    { name: 'containerd' },
    { name: 'restart', boolean: true },
  ]);
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument "${flags.positionals[0]}"`);
  const one = (name: string) => flags.values.get(name)?.[0];
  return {
    containerdConfig: path.resolve(one('containerd-config') ?? DEFAULT_CONTAINERD_CONFIG),
    binDir: path.resolve(one('bin-dir') ?? DEFAULT_BIN_DIR),
    micrunConfig: path.resolve(one('micrun-config') ?? (env.MICRUN_CONFIG || DEFAULT_CONFIG_PATH)),
    containerd: one('containerd'),
    restart: flags.booleans.has('restart'),
  };
}

/** Applies `edit` to the file (missing = ""), with a backup; true when the file changed. */
function editContainerdConfig(file: string, edit: (text: string) => ConfigEdit, say: (line: string) => void): boolean {
  const existed = existsSync(file);
  const before = existed ? readFileSync(file, 'utf8') : '';
  const result = edit(before);
  for (const note of result.notes) say(note);
  if (!result.changed) return false;
  if (existed) {
    copyFileSync(file, `${file}.micrun.bak`);
    say(`backup of the previous config: ${file}.micrun.bak`);
  }
  if (result.text.trim() === '') {
    // Only our block was in it: install created the file.
    rmSync(file);
    say(`removed ${file} (it held only what micrun install wrote)`);
    return true;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeAtomically(file, result.text, existed ? statSync(file).mode & 0o7777 : 0o644);
  return true;
}

/** The config version of a config written from nothing: the one the installed containerd reads natively. */
function newConfigVersion(opts: InstallOptions, env: NodeJS.ProcessEnv) {
  const binary = opts.containerd ?? which('containerd', env);
  if (!binary) return configVersionFor(1);
  return configVersionFor(containerdVersion(binary)?.major ?? 1);
}

function checkShimLinkFree(shim: string, binDir: string): void {
  const link = path.join(binDir, SHIM);
  if (existsOrDangling(link) && !pointsTo(link, shim)) {
    throw failedPrecondition(`${link} exists and is not this micrun's shim (${shim}): remove it or choose another --bin-dir; nothing was changed`);
  }
}

function linkShim(shim: string, binDir: string, env: NodeJS.ProcessEnv, say: (line: string) => void): void {
  const link = path.join(binDir, SHIM);
  if (pointsTo(link, shim)) {
    say(`${link} is already this micrun's shim (${packageVersion})`);
    return;
  }
  mkdirSync(binDir, { recursive: true });
  symlinkSync(shim, link);
  say(`linked ${link} → ${shim}`);
  const onPath = which(SHIM, env);
  if (onPath && !pointsTo(onPath, shim)) say(`warning: ${onPath} comes first on this PATH and is another shim`);
}

function unlinkShim(shim: string, binDir: string, say: (line: string) => void): void {
  const link = path.join(binDir, SHIM);
  let text: string | undefined;
  try {
    text = readlinkSync(link);
  } catch {
    // not a symlink, or absent: not ours
  }
  if (text === shim) {
    rmSync(link);
    say(`removed ${link}`);
  } else if (existsOrDangling(link)) {
    say(`left ${link}: micrun install did not create it`);
  }
}

function writeDefaultMicrunConfig(template: string, file: string, say: (line: string) => void): void {
  if (existsSync(file)) {
    say(`kept the micrun config ${file}`);
    return;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  writeAtomically(file, readFileSync(template, 'utf8'), 0o644);
  say(`wrote the default micrun config ${file}`);
}

function removeDefaultMicrunConfig(template: string, file: string, say: (line: string) => void): void {
  if (!existsSync(file)) return;
  if (readFileSync(file, 'utf8') === readFileSync(template, 'utf8')) {
    rmSync(file);
    say(`removed the default micrun config ${file}`);
  } else {
    say(`kept ${file}: it was changed after install`);
  }
}

function restartContainerd(env: NodeJS.ProcessEnv): void {
  const result = spawnSync('systemctl', ['restart', 'containerd'], { env, encoding: 'utf8', timeout: 120_000 });
  if (result.status !== 0) {
    const why = result.error?.message ?? (result.stderr.trim() || `exit status ${result.status}`);
    throw failedPrecondition(`systemctl restart containerd failed (${why}): restart containerd by hand to load the change`);
  }
}

function writeAtomically(file: string, text: string, mode: number): void {
  const temp = `${file}.micrun-${process.pid}.tmp`;
  writeFileSync(temp, text, { mode, flush: true });
  renameSync(temp, file);
}

function pointsTo(link: string, target: string): boolean {
  try {
    return realpathSync(link) === realpathSync(target);
  } catch {
    return false;
  }
}

function existsOrDangling(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

function moduleDir(): string {
  return typeof __dirname === 'string' ? __dirname : path.dirname(process.argv[1] ?? process.cwd());
}
