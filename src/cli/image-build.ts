// `micrun image build`: wraps one firmware ELF into an OCI image archive for `ctr image import`
// (or `nerdctl load`). Validates everything before writing; writes the archive atomically.
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';
import { buildImage, hostPlatform, isValidReference, parsePlatform, type Platform } from './oci-image';
import { parseFlags, UsageError } from './parse-flags';

export const IMAGE_BUILD_USAGE = `usage: micrun image build --firmware FILE --name REF -o OUT.tar [options]

Wraps a firmware ELF into an OCI image archive: FROM scratch, /firmware.elf (0755),
Entrypoint ["/firmware.elf"]. Import it with: ctr image import OUT.tar

  --firmware FILE        firmware ELF to package (required)
  --name REF             image reference, e.g. docker.io/library/zephyr-echo:1.0 (required)
  -o, --output OUT.tar   archive to write (required)
  --env K=V              image Env entry, repeatable; reaches the runtime as process.env
                         (micrun reads MICRUN_PEDESTAL)
  --annotation K=V       manifest annotation, repeatable (containerd does NOT pass these to
                         the runtime; use --env for hints the runtime must see)
  --platform OS/ARCH     image platform (default linux/<host arch>, so ctr run picks it)
`;

const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/** e_machine values worth naming in the progress line. */
const MACHINES: Record<number, string> = { 0x28: 'ARM', 0xb7: 'AArch64', 0xf3: 'RISC-V', 0x3e: 'x86-64', 0x03: 'x86' };

export interface CommandIO {
  stderr: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

export function runImageBuild(argv: readonly string[], io: CommandIO): number {
  const flags = parseFlags(argv, [
    { name: 'firmware' },
    { name: 'name' },
    { name: 'output', short: 'o' },
    { name: 'env', repeat: true },
    { name: 'annotation', repeat: true },
    { name: 'platform' },
  ]);
  if (flags.positionals.length > 0) throw new UsageError(`unexpected argument ${flags.positionals[0]}`);
  const one = (name: string) => {
    const v = flags.values.get(name)?.[0];
    if (v === undefined || v === '') throw new UsageError(`--${name} is required`);
    return v;
  };
  const firmwareFile = one('firmware');
  const name = one('name');
  const output = one('output');
  if (!isValidReference(name)) {
    throw new UsageError(`--name ${JSON.stringify(name)} is not an image reference (e.g. docker.io/library/zephyr-echo:1.0; lower-case)`);
  }
  const env = (flags.values.get('env') ?? []).map((kv) => checkPair(kv, '--env'));
  const annotations: Record<string, string> = {};
  for (const kv of flags.values.get('annotation') ?? []) {
    checkPair(kv, '--annotation');
    const eq = kv.indexOf('=');
    annotations[kv.slice(0, eq)] = kv.slice(eq + 1);
  }
  let platform: Platform = hostPlatform();
  const platformText = flags.values.get('platform')?.[0];
  if (platformText !== undefined) {
    const p = parsePlatform(platformText);
    if (!p) throw new UsageError(`--platform ${JSON.stringify(platformText)} is not OS/ARCH[/VARIANT], e.g. linux/arm64`);
    platform = p;
  }

  let firmware: Buffer;
  try {
    firmware = readFileSync(firmwareFile);
  } catch (err) {
    throw new Error(`cannot read firmware ${firmwareFile}: ${(err as Error).message}`);
  }
  if (firmware.length < 20 || !firmware.subarray(0, 4).equals(ELF_MAGIC)) {
    throw new Error(`${firmwareFile} is not an ELF file (no \\x7fELF header); micrun images carry the firmware ELF itself`);
  }
  const littleEndian = firmware[5] !== 2;
  const machine = littleEndian ? firmware.readUInt16LE(18) : firmware.readUInt16BE(18);
  io.stderr(`micrun: firmware ${firmwareFile}: ${firmware.length} bytes, ELF ${MACHINES[machine] ?? `machine ${machine}`}`);

  const epoch = io.env.SOURCE_DATE_EPOCH;
  const created = epoch && /^\d+$/.test(epoch) ? Number(epoch) : Math.floor(Date.now() / 1000);
  const image = buildImage({ firmware, name, env, annotations, platform, created });
  io.stderr(`micrun: layer ${image.layer.digest} (${image.layer.size} bytes gzip), config ${image.config.digest}`);

  writeAtomically(output, image.archive);
  const plat = [platform.os, platform.architecture, platform.variant].filter(Boolean).join('/');
  io.stderr(`micrun: wrote ${output} (${image.archive.length} bytes): ${name} ${plat}, manifest ${image.manifest.digest}`);
  io.stderr(`micrun: import with: ctr image import ${output}`);
  return 0;
}

function checkPair(kv: string, flag: string): string {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new UsageError(`${flag} ${JSON.stringify(kv)} must be KEY=VALUE`);
  return kv;
}

function writeAtomically(file: string, data: Buffer): void {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}`);
  try {
    const fd = openSync(tmp, 'w', 0o644);
    try {
      let off = 0;
      while (off < data.length) off += writeSync(fd, data, off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw new Error(`cannot write ${file}: ${(err as Error).message}`);
  }
}
