// OCI image archives for the e2e tests that `micrun image build` cannot make (it only
// packs firmware): an image without any ELF, and a busybox image for the runc comparison.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { hostPlatform } from '../../../src/cli/oci-image';
import { writeTar, type TarEntry } from '../../../src/cli/tar-writer';

const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

export function ociArchive(name: string, files: TarEntry[], config: Record<string, unknown>): Buffer {
  const layerTar = writeTar(files);
  const layer = gzipSync(layerTar);
  const platform = hostPlatform();
  const configJson = Buffer.from(JSON.stringify({
    architecture: platform.architecture,
    os: platform.os,
    config,
    rootfs: { type: 'layers', diff_ids: [sha(layerTar)] },
  }));
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha(configJson), size: configJson.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(layer), size: layer.length }],
  }));
  const index = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    manifests: [{
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: sha(manifest),
      size: manifest.length,
      platform,
      annotations: { 'io.containerd.image.name': name, 'org.opencontainers.image.ref.name': name.split(':').pop()! },
    }],
  }));
  const blob = (b: Buffer) => ({ name: `blobs/sha256/${sha(b).slice(7)}`, data: b, mtime: 0 });
  return writeTar([
    { name: 'oci-layout', data: Buffer.from('{"imageLayoutVersion":"1.0.0"}'), mtime: 0 },
    { name: 'index.json', data: index, mtime: 0 },
    { name: 'blobs', mtime: 0 },
    { name: 'blobs/sha256', mtime: 0 },
    blob(manifest),
    blob(configJson),
    blob(layer),
  ]);
}

/**
 * A one-layer image holding only the static /bin/busybox (busybox-static), running `argv`: a
 * runc container, or a pause image that really pauses when runc starts it.
 */
export function busyboxArchive(name: string, argv: readonly string[]): Buffer {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) throw new Error('/bin/busybox is missing: install busybox-static');
  const files = [
    { name: 'bin', mode: 0o755 },
    { name: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
  ];
  return ociArchive(name, files, { Entrypoint: [...argv] });
}
