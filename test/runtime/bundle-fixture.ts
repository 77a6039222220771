// A bundle on disk for runtime unit tests: config.json with root.path "rootfs" holding a minimal
// /firmware.elf (just the ELF magic), so the real firmware lookup and staging run.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export const ELF_BYTES = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46]), Buffer.alloc(60)]);
export const NO_STDIO = { stdin: '', stdout: '', stderr: '', terminal: false };

export function writeBundle(
  dir: string,
  opts: { annotations?: Record<string, string>; firmware?: Buffer; config?: object } = {},
): string {
  mkdirSync(path.join(dir, 'rootfs'), { recursive: true });
  writeFileSync(path.join(dir, 'rootfs', 'firmware.elf'), opts.firmware ?? ELF_BYTES);
  writeFileSync(
    path.join(dir, 'config.json'),
    JSON.stringify({
      ociVersion: '1.0.2',
      process: { args: ['/firmware.elf'], env: [], cwd: '/' },
      root: { path: 'rootfs' },
      annotations: opts.annotations ?? {},
      ...opts.config,
    }),
  );
  return dir;
}
