// src/cli: the `micrun` user CLI — `image build` (OCI image archive from a firmware ELF, with our
// own ustar writer), `install` / `uninstall` (containerd config, shim link, default config),
// `doctor` (node checks) and `version`. main.ts is the entry (dist/micrun.js).
//
// It never talks to containerd's API: install edits containerd's config file and doctor reads
// it, runs `containerd --version` and asks micad `status`. Nothing in the runtime imports it.
export { main } from './main';
export { buildImage, hostPlatform, parsePlatform, isValidReference, MEDIA_TYPES } from './oci-image';
export type { ImageSpec, BuiltImage, Descriptor, Platform } from './oci-image';
export { writeTar } from './tar-writer';
export type { TarEntry } from './tar-writer';
