// What most e2e files start before their first test: micad-sim, then a private containerd whose
// shims talk to that micad-sim and keep their state in the test's dir, then firmware images
// imported into it. One call, and one destroy() that takes everything down in the right order
// (containerd and its shim daemons first, then micad-sim with its QEMUs) — also when a step of
// the start-up itself failed, so a broken fixture never leaves processes behind.
import { startContainerd, type Containerd, type ContainerdOptions } from './containerd';
import { importFirmwareImage } from './firmware-image';
import { firmwarePath, startMicadSim, type MicadSim, type MicadSimOptions } from './micad-sim';

export interface MicrunStackOptions {
  /** MICRUN_STATE_DIR of the shims (under the test's own temp dir, removed by the test). */
  stateDir: string;
  /**
   * Images to build and import: [firmware, image name]; firmware is a fixture name
   * (test/fixtures/firmware/build/<name>.elf) or an absolute path to any ELF.
   */
  images?: readonly (readonly [fixture: string, name: string])[];
  /** Namespace to import the images into (default `default`). */
  namespace?: string;
  /** Extra containerd options; `env` is merged over the micad socket dir and state dir. */
  containerd?: ContainerdOptions;
  sim?: MicadSimOptions;
}

export interface MicrunStack {
  sim: MicadSim;
  ctd: Containerd;
  /** containerd (and the shim daemons of its socket dir), then micad-sim. */
  destroy(): Promise<void>;
}

export async function startMicrunStack(opts: MicrunStackOptions): Promise<MicrunStack> {
  const sim = await startMicadSim(opts.sim);
  let ctd: Containerd | undefined;
  const destroy = async () => {
    try {
      await ctd?.destroy();
    } finally {
      await sim.stop();
    }
  };
  try {
    ctd = await startContainerd({
      ...opts.containerd,
      env: { MICRUN_MICA_SOCKET_DIR: sim.socketDir, MICRUN_STATE_DIR: opts.stateDir, ...opts.containerd?.env },
    });
    for (const [fixture, name] of opts.images ?? []) {
      await importFirmwareImage(ctd, fixture.startsWith('/') ? fixture : firmwarePath(fixture), name, { namespace: opts.namespace });
    }
  } catch (err) {
    await destroy();
    throw err;
  }
  return { sim, ctd, destroy };
}
