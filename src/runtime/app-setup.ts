// Create's steps for an app container: mount the rootfs, find and stage the firmware (and
// ped.conf), plan resources, persist the record, `micad create`. Every step registers its undo
// before it can half-succeed, so a failed Create leaves no mount, no staged file, no record and
// no micad instance behind. Returns the Container; registering it is the Runtime's business.
import path from 'node:path';
import type { MicaClient } from '../mica/types';
import { parseAnnotations, readEnvHints } from '../oci/annotations';
import { findFirmware, findPedestalConfig, stageFirmware, stagePedestalConfig } from '../oci/firmware';
import { planCreateResources, type ResourceDefaults } from '../oci/resources';
import { mountRootfs, unmountRootfs, type RootfsMount } from '../oci/rootfs';
import type { OciSpec } from '../oci/spec';
import { Container, type ContainerRecord } from './container';
import { instanceParams } from './instance-params';
import type { StateStore } from './state-store';
import { UndoStack, type UndoLog } from './undo-stack';

/** The fields every container record starts with. */
export type BaseRecord = Omit<ContainerRecord, 'kind' | 'instance' | 'state'>;

export interface AppSetupDeps {
  mica: MicaClient;
  store: StateStore;
  resources: ResourceDefaults;
  pedestal?: string;
  maxFirmwareBytes: number;
  log: UndoLog & { info(obj: object, msg: string): void };
}

export interface AppSetupInput {
  base: BaseRecord;
  spec: OciSpec;
  /** The spec's annotations, with a pod's inherited ones already merged in. */
  annotations: Record<string, string>;
  mounts: RootfsMount[];
  /** The container's state directory (validated: state-store.ts containerDir). */
  stateDir: string;
}

export async function setUpApp(deps: AppSetupDeps, input: AppSetupInput): Promise<Container> {
  const { base, spec, stateDir } = input;
  const { id } = base;
  const ann = parseAnnotations(input.annotations);
  for (const { key, reason } of ann.ignored) deps.log.info({ id, key }, `annotation ignored: ${reason}`);
  const hints = readEnvHints(spec.process?.env ?? []);
  const undo = new UndoStack();
  try {
    const rootfs = await prepareRootfs(base.bundle, spec, input.mounts, undo);
    undo.push('remove state and staged files', () => deps.store.remove(id));
    const found = await findFirmware({ rootfs, firmwarePath: ann.firmwarePath, sha256: ann.firmwareSha256, args: spec.process?.args, cwd: spec.process?.cwd });
    const firmware = await stageFirmware(found, stateDir, deps.maxFirmwareBytes);
    // ped.conf names a file inside the image; micad reads host paths, and the rootfs may be
    // unmounted before it loads it — so it gets a staged copy beside the firmware.
    const pedestalConfig = ann.pedestalConfig
      ? await stagePedestalConfig(await findPedestalConfig(rootfs, ann.pedestalConfig), stateDir, deps.maxFirmwareBytes)
      : undefined;
    const resources = planCreateResources(spec.linux?.resources, deps.resources, { minMemoryMiB: ann.minMemoryMiB, maxVcpus: ann.maxVcpus });
    const params = instanceParams({ id, firmware, ...(pedestalConfig ? { pedestalConfig } : {}), annotations: ann, hints, configuredPedestal: deps.pedestal, resources });
    const rootfsMount = input.mounts.length > 0 ? rootfs : undefined;
    const container = new Container({ ...base, kind: 'app', instance: params.name, firmware, resources, ...(rootfsMount ? { rootfsMount } : {}) });
    // Persist before micad knows the instance: a crash right after create still leaves a record
    // naming it, so `delete` removes it.
    await deps.store.save(container.toRecord());
    // Registered before the call: a create that fails after micad made the instance (a reply
    // lost to a timeout) must not orphan it.
    undo.push('micad rm', async () => {
      if (deps.mica.exists(params.name)) await deps.mica.remove(params.name);
    });
    await deps.mica.create(params);
    return container;
  } catch (err) {
    await undo.unwind(deps.log, { id });
    throw err;
  }
}

/** The rootfs directory: containerd's mounts on <bundle>/rootfs, else the spec's root.path. */
async function prepareRootfs(bundle: string, spec: OciSpec, mounts: RootfsMount[], undo: UndoStack): Promise<string> {
  if (mounts.length === 0) return path.resolve(bundle, spec.root?.path ?? 'rootfs');
  const rootfs = path.join(bundle, 'rootfs');
  await mountRootfs(mounts, rootfs);
  undo.push('unmount rootfs', () => unmountRootfs(rootfs));
  return rootfs;
}
