// Finds an executable on a PATH the way execvp does (first directory that holds an executable
// regular file of that name), for the checks doctor and install make on containerd's PATH.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';

export function which(name: string, env: NodeJS.ProcessEnv, extraDirs: readonly string[] = []): string | undefined {
  for (const dir of [...(env.PATH ?? '').split(':'), ...extraDirs]) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
