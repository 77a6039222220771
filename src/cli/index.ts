// src/cli: the `micrun` user CLI — `image build` (OCI image archive from a firmware ELF, with our
// own ustar writer), `doctor` (host checks) and `version`. main.ts is the entry (dist/micrun.js).
//
// It does not talk to containerd or micad (doctor only looks for their sockets and binaries), and
// nothing in the runtime imports it.
export { main } from './main';
export { buildImage, hostPlatform, parsePlatform, isValidReference, MEDIA_TYPES } from './oci-image';
export type { ImageSpec, BuiltImage, Descriptor, Platform } from './oci-image';
export { writeTar } from './tar-writer';
export type { TarEntry } from './tar-writer';
