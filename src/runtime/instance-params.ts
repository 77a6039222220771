// What micad's create message gets for an app container: the instance name and the pedestal,
// chosen from the annotations, the image's hints and the config. Pure; the Runtime does the I/O.
import { createHash } from 'node:crypto';
import { invalidArgument } from '../errors';
import type { CreateParams } from '../mica/types';
import { MAX_NAME_BYTES } from '../mica/wire';
import type { MicrunAnnotations, EnvHints } from '../oci/annotations';
import { isPedestal, pedestalOnWire, type Pedestal } from '../oci/pedestals';
import type { GuestResources } from '../oci/resources';

export interface InstanceInput {
  id: string;
  /** Host path of the staged firmware. */
  firmware: string;
  /** Host path of the staged ped.conf, when the annotation named one. */
  pedestalConfig?: string;
  annotations: MicrunAnnotations;
  hints: EnvHints;
  /** [mica] pedestal from the config. */
  configuredPedestal?: string;
  resources: GuestResources;
}

export function instanceParams(input: InstanceInput): CreateParams {
  const { annotations: ann } = input;
  return {
    name: instanceName(input.id),
    firmwarePath: input.firmware,
    pedestal: pedestalOnWire(choosePedestal(ann.pedestal, input.hints.pedestal, input.configuredPedestal)),
    ...(input.pedestalConfig ? { pedestalConfig: input.pedestalConfig } : {}),
    ...(ann.debug ? { debug: true } : {}),
    ...input.resources,
  };
}

/**
 * The pedestal: the annotation wins, then the image's MICRUN_PEDESTAL hint, then the config. An
 * unknown hint is an error rather than a silent fall-back to bare metal.
 */
function choosePedestal(annotation: Pedestal | undefined, hint: string | undefined, configured: string | undefined): Pedestal | '' {
  if (annotation) return annotation;
  if (hint !== undefined && hint !== '') {
    if (!isPedestal(hint)) throw invalidArgument(`image env MICRUN_PEDESTAL=${JSON.stringify(hint)} is not a pedestal micad knows`);
    return hint;
  }
  return configured && isPedestal(configured) ? configured : '';
}


/**
 * micad instance name: the container id, which is what operators see in `mica status` and in
 * Xen's domain list. micad takes at most 65 bytes; containerd allows ids up to 76, so a longer
 * id keeps a readable prefix and gets a hash of the whole id (stable, so `delete` finds it too —
 * it is also persisted in the record).
 */
export function instanceName(id: string): string {
  if (Buffer.byteLength(id) <= MAX_NAME_BYTES) return id;
  return `${id.slice(0, 40)}-${createHash('sha256').update(id).digest('hex').slice(0, 16)}`;
}
