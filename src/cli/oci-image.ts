// Builds an OCI image archive (image-layout tar) holding one firmware, following the image
// convention of design.md: FROM scratch, /firmware.elf (0755), Entrypoint ["/firmware.elf"],
// hints as Env. `ctr image import` reads the archive's index.json and names the image from the
// `io.containerd.image.name` annotation, so the image appears under exactly the REF given.
// Pure apart from hashing and gzip: the caller reads the firmware and writes the result.
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { writeTar } from './tar-writer';

export const MEDIA_TYPES = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ImageSpec {
  firmware: Buffer;
  /** Image reference, e.g. "docker.io/library/zephyr-echo:1.0". */
  name: string;
  /** "KEY=VALUE" entries for config.Env. */
  env: string[];
  /** Manifest annotations (containerd does not copy these into the runtime spec). */
  annotations: Record<string, string>;
  platform: Platform;
  /**
   * config.created, seconds since the epoch; 0 by default. File mtimes are always 0 so the layer
   * (and thus the snapshot containerd unpacks) is the same for the same firmware.
   */
  created?: number;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

export interface BuiltImage {
  archive: Buffer;
  manifest: Descriptor;
  config: Descriptor;
  layer: Descriptor;
  /** sha256 of the uncompressed layer tar (config rootfs.diff_ids[0], the snapshot chain id). */
  diffId: string;
}

export const FIRMWARE_PATH = 'firmware.elf';

export function buildImage(spec: ImageSpec): BuiltImage {
  const mtime = 0;
  const created = new Date((spec.created ?? 0) * 1000).toISOString();
  const layerTar = writeTar([{ name: FIRMWARE_PATH, data: spec.firmware, mode: 0o755, mtime }]);
  const diffId = digest(layerTar);
  const layerGz = gzipSync(layerTar, { level: 9 });
  const layer: Descriptor = { mediaType: MEDIA_TYPES.layerGzip, digest: digest(layerGz), size: layerGz.length };

  const configJson = json({
    created,
    architecture: spec.platform.architecture,
    os: spec.platform.os,
    ...(spec.platform.variant ? { variant: spec.platform.variant } : {}),
    config: { Entrypoint: [`/${FIRMWARE_PATH}`], Env: spec.env },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created, created_by: 'micrun image build', comment: `/${FIRMWARE_PATH}` }],
  });
  const config: Descriptor = { mediaType: MEDIA_TYPES.config, digest: digest(configJson), size: configJson.length };

  const manifestJson = json({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.manifest,
    config,
    layers: [layer],
    ...(Object.keys(spec.annotations).length > 0 ? { annotations: spec.annotations } : {}),
  });
  const manifest: Descriptor = {
    mediaType: MEDIA_TYPES.manifest,
    digest: digest(manifestJson),
    size: manifestJson.length,
    platform: spec.platform,
    annotations: { [ANNOTATION_IMAGE_NAME]: spec.name, [ANNOTATION_REF_NAME]: refName(spec.name) },
  };
  const index = json({ schemaVersion: 2, mediaType: MEDIA_TYPES.index, manifests: [manifest] });

  const blob = (d: Descriptor, data: Buffer) => ({ name: `blobs/sha256/${d.digest.slice('sha256:'.length)}`, data, mtime });
  const archive = writeTar([
    { name: 'oci-layout', data: json({ imageLayoutVersion: '1.0.0' }), mtime },
    { name: 'index.json', data: index, mtime },
    { name: 'blobs', mtime },
    { name: 'blobs/sha256', mtime },
    blob(manifest, manifestJson),
    blob(config, configJson),
    blob(layer, layerGz),
  ]);
  return { archive, manifest, config, layer, diffId };
}

/** The tag of a reference ("latest" when none), as OCI layouts conventionally name it. */
function refName(ref: string): string {
  const noDigest = ref.split('@')[0]!;
  const lastSlash = noDigest.lastIndexOf('/');
  const colon = noDigest.lastIndexOf(':');
  return colon > lastSlash ? noDigest.slice(colon + 1) : 'latest';
}

/** Accepts docker-style references: lower-case path components, optional :tag. */
export function isValidReference(ref: string): boolean {
  const component = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
  const domain = '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?';
  const tag = '(?::[\\w][\\w.-]{0,127})?';
  return new RegExp(`^${domain}${component}(?:/${component})*${tag}$`).test(ref) && ref.length <= 255;
}

/** containerd's architecture names for Node's process.arch. */
export function hostPlatform(): Platform {
  const arch: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm', ia32: '386', ppc64: 'ppc64le', s390x: 's390x', riscv64: 'riscv64', loong64: 'loong64' };
  return { os: 'linux', architecture: arch[process.arch] ?? process.arch };
}

/** "linux/arm64", "linux/arm/v7" → Platform; undefined when malformed. */
export function parsePlatform(text: string): Platform | undefined {
  const m = /^([a-z0-9]+)\/([a-z0-9_]+)(?:\/([a-z0-9]+))?$/.exec(text);
  if (!m) return undefined;
  const p: Platform = { os: m[1]!, architecture: m[2]! };
  if (m[3]) p.variant = m[3];
  return p;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function digest(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
