// Loads the libmica N-API addon (native/build/Release/libmica.node, built by
// `npm run build:native`) and types its exports. The addon is found from the package root, the
// directory whose package.json is named "micrun", so the same code works from src/ under vitest
// and from the dist/ bundles, also when those are reached through a symlink on PATH.

import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { CreateParams } from './types';

/** What micad answered: ok = MICA-SUCCESS; text = its text before the marker, trimmed. */
export interface NativeReply {
  ok: boolean;
  text: string;
}

/**
 * A failed native call. `code` is the errno name: ENOENT (no socket), EACCES, ECONNREFUSED
 * (stale socket), ETIMEDOUT (deadline), EPROTO (EOF without marker), EINVAL (value micad
 * cannot take, e.g. a name over 65 bytes or a command over 31 bytes), or another errno.
 */
export interface NativeError extends Error {
  code: string;
  errno: number;
}

export interface LibmicaAddon {
  /** Sends one create_msg to `<socketDir>/mica-create.socket`. Unset ints go out as -1. */
  create(socketDir: string, params: CreateParams, timeoutMs?: number): Promise<NativeReply>;
  /** Sends one text command to `<socketDir>/<name>.socket`. */
  command(socketDir: string, name: string, cmd: string, timeoutMs?: number): Promise<NativeReply>;
  /** The exact 1772 bytes `create` would send (tests pin the C packing with it). */
  packCreateMessage(params: CreateParams): Buffer;
  /** A pty pair: master O_NONBLOCK, both CLOEXEC, slave in raw mode. */
  openpty(): { master: number; slave: number; path: string };
  setRaw(fd: number): void;
  setWinsize(fd: number, cols: number, rows: number): void;
  getWinsize(fd: number): { cols: number; rows: number };
}

export const ADDON_RELATIVE_PATH = join('native', 'build', 'Release', 'libmica.node');

let cached: LibmicaAddon | undefined;

/** Loads the addon once; throws an Error that says how to build it when it is missing. */
export function loadAddon(): LibmicaAddon {
  cached ??= loadAddonFrom(findPackageRoot(moduleDir()));
  return cached;
}

/** Loads `<root>/native/build/Release/libmica.node` (uncached; loadAddon is the normal entry). */
export function loadAddonFrom(root: string): LibmicaAddon {
  const file = join(root, ADDON_RELATIVE_PATH);
  if (!existsSync(file)) {
    throw new Error(
      `the libmica native addon is missing (${file}): run \`npm run build:native\` in ${root}`,
    );
  }
  // createRequire works both in the CommonJS bundles and in vitest's ESM transform.
  return createRequire(join(root, 'package.json'))(file) as LibmicaAddon;
}

/** Walks up from `start` (symlinks resolved) to the directory of micrun's package.json. */
export function findPackageRoot(start: string): string {
  let dir = realpathSync(start);
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && readPackageName(manifest) === 'micrun') return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new Error(
        `cannot find micrun's package.json above ${start}: the libmica addon is looked up ` +
          `at <package root>/${ADDON_RELATIVE_PATH}`,
      );
    }
    dir = parent;
  }
}

function readPackageName(manifest: string): string | undefined {
  try {
    const parsed = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown };
    return typeof parsed.name === 'string' ? parsed.name : undefined;
  } catch {
    return undefined;
  }
}

function moduleDir(): string {
  // esbuild's CommonJS bundles and vitest both define __dirname; the entry script is the
  // fallback for any other loader.
  if (typeof __dirname === 'string') return __dirname;
  return dirname(process.argv[1] ?? process.cwd());
}
