// What `containerd --version` says: install picks the config format of a new config from it,
// doctor reports it and checks the config format against it.
import { execFileSync } from 'node:child_process';

export interface ContainerdVersion {
  /** major.minor.patch, without Debian's ~ds1 / +unknown suffixes. */
  version: string;
  major: number;
  minor: number;
}

/** `containerd --version` → its version ("containerd github.com/containerd/containerd/v2 v2.1.9 <rev>"). */
export function containerdVersion(binary: string): ContainerdVersion | undefined {
  let out: string;
  try {
    out = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
  // Skip "containerd <module path>": the /v2 in the 2.x module path is not the version.
  const m = /\bv?(\d+)\.(\d+)\.(\d+)/.exec(out.replace(/^containerd\s+\S+\s*/, ''));
  if (!m) return undefined;
  return { version: `${m[1]}.${m[2]}.${m[3]}`, major: Number(m[1]), minor: Number(m[2]) };
}
