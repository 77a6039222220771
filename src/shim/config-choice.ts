// Which micrun config file a shim uses. The runtime handler's options (runtimeoptions.v1.Options
// ConfigPath, read by `start` from stdin) win over $MICRUN_CONFIG and the default path. `start`
// passes the choice on to the daemon it spawns (as MICRUN_CONFIG) and records it in the bundle,
// because `delete` gets no options and must find the same state dir and micad socket dir.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/** `<bundle>/micrun-config-path`: the config file chosen by the runtime options, if any. */
export const CONFIG_PATH_FILE = 'micrun-config-path';

export function rememberConfigPath(bundle: string, configPath: string): void {
  if (configPath) writeFileSync(path.join(bundle, CONFIG_PATH_FILE), configPath, { mode: 0o600 });
}

/** The path `start` recorded for this bundle; undefined when the options chose none. */
export function rememberedConfigPath(bundle: string): string | undefined {
  try {
    return readFileSync(path.join(bundle, CONFIG_PATH_FILE), 'utf8') || undefined;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
