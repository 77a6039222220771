// A firmware image in a test's containerd, made the way users make one: `micrun image build`
// (the built dist/micrun.js) writes an OCI archive, `ctr image import` loads it. The archive is
// written under the containerd's own temp dir, so destroy() removes it with everything else.
// Images micrun cannot build (no ELF, busybox for runc) come from ./oci-archive instead.
import path from 'node:path';
import { distDir, type Containerd } from './containerd';
import { run } from './processes';

export interface FirmwareImageOptions {
  /** containerd namespace to import into (default `default`; CRI uses `k8s.io`). */
  namespace?: string;
  /** Extra environment for `micrun image build`. */
  env?: NodeJS.ProcessEnv;
  /** Extra arguments for `micrun image build` (e.g. ['--os', 'zephyr']). */
  extraArgs?: readonly string[];
}

/**
 * Builds an image named `name` from the ELF `firmware` and imports it into `ctd`. Throws with
 * the tool's stderr when either step fails, so a broken build fails the hook that called it.
 * Resolves with the archive's path.
 */
export async function importFirmwareImage(ctd: Containerd, firmware: string, name: string, opts: FirmwareImageOptions = {}): Promise<string> {
  const archive = path.join(ctd.dir, `image-${name.replace(/[^a-z0-9]/gi, '_')}.tar`);
  const built = await run(
    process.execPath,
    [path.join(distDir, 'micrun.js'), 'image', 'build', '--firmware', firmware, '--name', name, '-o', archive, ...(opts.extraArgs ?? [])],
    { env: { ...process.env, ...opts.env } },
  );
  if (built.code !== 0) throw new Error(`micrun image build ${name} from ${firmware} exited ${built.code}: ${built.stderr}`);
  const imported = await ctd.ctr(['image', 'import', archive], { namespace: opts.namespace });
  if (imported.code !== 0) throw new Error(`ctr image import ${archive} exited ${imported.code}: ${imported.stderr}`);
  return archive;
}
