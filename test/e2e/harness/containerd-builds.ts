// The containerd builds the e2e matrix runs: Debian 12's own 1.6 (/usr/bin) plus the newest 1.7
// and 2.x from Debian's archive, unpacked by scripts/lib/containerd-versions.sh into a cache dir
// whose manifest lists `<version> <bin dir>` per line. scripts/test.sh fetches them and exports
// MICRUN_CONTAINERD_MATRIX; without it the default cache path is read, and a missing manifest
// means Debian 12's containerd only (a test that needs another version says so and fails).
import { existsSync, readFileSync } from 'node:fs';

export interface ContainerdBuild {
  /** Upstream version, e.g. `1.7.24`: printed in test names. */
  version: string;
  /** Directory holding `containerd`, `ctr` and `containerd-shim-runc-v2` of this build. */
  binDir: string;
  /** Major.minor as numbers, for version-dependent expectations. */
  major: number;
  minor: number;
}

const DEFAULT_MANIFEST = '/var/cache/micrun/containerd/matrix';
export const SYSTEM_CONTAINERD: ContainerdBuild = { version: '1.6', binDir: '/usr/bin', major: 1, minor: 6 };

export function containerdBuilds(manifest = process.env.MICRUN_CONTAINERD_MATRIX ?? DEFAULT_MANIFEST): ContainerdBuild[] {
  if (!existsSync(manifest)) return [SYSTEM_CONTAINERD];
  return readFileSync(manifest, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [version = '', binDir = ''] = line.trim().split(/\s+/);
      const [major = 0, minor = 0] = version.split('.').map(Number);
      return { version, binDir, major, minor };
    });
}

/** The build of one major.minor line (`'2'` → the newest 2.x); an error naming the manifest if absent. */
export function containerdBuild(line: string): ContainerdBuild {
  const builds = containerdBuilds().filter((b) => b.version === line || b.version.startsWith(`${line}.`));
  const build = builds.at(-1);
  if (!build) {
    throw new Error(`no containerd ${line}.x build: run scripts/test.sh (scripts/lib/containerd-versions.sh) to fetch it`);
  }
  return build;
}
