// What `start` prints for containerd to find the daemon (the shim bootstrap). containerd 1.6 reads
// the bare address. 1.7 and 2.x parse JSON {version, address, protocol} and fall back to the bare
// address for anything else; 1.7 rejects version > 2, 2.x accepts 2 (Task API containerd.task.v2,
// through its v2 bridge) and 3 (containerd.task.v3). The daemon serves both Task API names, so
// the form is only about which containerd reads it: config key `shim.bootstrap`, default
// "address", the one form every supported containerd accepts.
import type { BootstrapForm } from '../config';

export function bootstrapOutput(address: string, form: BootstrapForm): string {
  switch (form) {
    case 'address':
      return address;
    case 'json-v2':
      return JSON.stringify({ version: 2, address, protocol: 'ttrpc' });
    case 'json-v3':
      return JSON.stringify({ version: 3, address, protocol: 'ttrpc' });
  }
}
