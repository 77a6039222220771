// Reads and edits containerd's config.toml for `micrun install` / `uninstall` / `doctor`: the CRI
// runtime handler `micrun` (runtime_type io.containerd.mica.v2, our annotations passed through)
// in config version 2 (containerd 1.6/1.7) or 3 (2.x).
//
// How the edit keeps everything else as it was: smol-toml parses but cannot write a document
// back with its comments and layout, so we never re-serialise the file. install APPENDS one block
// of table sections between two marker comments; uninstall deletes the lines between (and
// including) the markers. Appending a `[table]` at the end is always at top level, whatever
// table the file ended in. Each edit is then proven by parsing the result: the new document must
// equal the old one plus exactly our tables (or minus them), else nothing is written and the
// error shows the snippet to add by hand (e.g. a file that defines `runtimes` as an inline table,
// where a later [runtimes.micrun] header is invalid TOML).
import { isDeepStrictEqual } from 'node:util';
import { parse } from 'smol-toml';
import { failedPrecondition, invalidArgument } from '../errors';

export const DEFAULT_CONTAINERD_CONFIG = '/etc/containerd/config.toml';
export const RUNTIME_TYPE = 'io.containerd.mica.v2';
export const HANDLER = 'micrun';
export const ANNOTATION_GLOB = 'org.openeuler.micrun.*';
const RUNC_RUNTIME_TYPE = 'io.containerd.runc.v2';

export const BLOCK_BEGIN = '# >>> micrun: added by `micrun install`; `micrun uninstall` removes this block >>>';
export const BLOCK_END = '# <<< micrun <<<';

export type ConfigVersion = 2 | 3;

/** The CRI plugin's id and the key path of its runtime table, per config version. */
const CRI: Record<ConfigVersion, { plugin: string; runtimes: readonly string[] }> = {
  2: { plugin: 'io.containerd.grpc.v1.cri', runtimes: ['plugins', 'io.containerd.grpc.v1.cri', 'containerd', 'runtimes'] },
  3: { plugin: 'io.containerd.cri.v1.runtime', runtimes: ['plugins', 'io.containerd.cri.v1.runtime', 'containerd', 'runtimes'] },
};

/** What doctor and install need to know about a containerd config. */
export interface ContainerdConfigFacts {
  version: ConfigVersion;
  /** The runtime table of handler `micrun`, if any. */
  micrun?: Record<string, unknown>;
  /** containerd keeps its runc runtime with this file's CRI runtime table (plus micrun). */
  runcPresent: boolean;
  /** The CRI plugin is in disabled_plugins (Kubernetes cannot use any runtime then). */
  criDisabled: boolean;
  /** The block `micrun install` writes is in the file. */
  managedBlock: boolean;
  /** `[grpc] address`: where this containerd serves (its default when unset). */
  grpcAddress: string;
}

/** containerd's gRPC socket when its config names none. */
export const DEFAULT_GRPC_ADDRESS = '/run/containerd/containerd.sock';

export function inspectContainerdConfig(text: string, file: string): ContainerdConfigFacts {
  const doc = parseToml(text, file);
  const version = configVersion(doc, file);
  const runtimes = tableAt(doc, CRI[version].runtimes);
  const micrun = runtimes?.[HANDLER];
  const disabled = Array.isArray(doc.disabled_plugins) ? doc.disabled_plugins : [];
  return {
    version,
    micrun: isTable(micrun) ? micrun : undefined,
    // 2.x merges the file's runtimes over its defaults, so runc stays; 1.6 takes a version 2
    // file's runtime table as the whole table.
    runcPresent: version === 3 || isTable(runtimes?.runc),
    criDisabled: disabled.includes(CRI[version].plugin) || (version === 2 && disabled.includes('cri')),
    managedBlock: text.split('\n').some((line) => line.trim() === BLOCK_BEGIN),
    grpcAddress: stringOr(tableAt(doc, ['grpc'])?.address, DEFAULT_GRPC_ADDRESS),
  };
}

export interface ConfigEdit {
  text: string;
  changed: boolean;
  /** What was done, one line each, for the user. */
  notes: string[];
}

/**
 * Adds handler `micrun` to `text` (a whole config.toml; "" for none). `newFileVersion` is the
 * format of a config written from nothing (the installed containerd's: 3 for 2.x, else 2).
 */
export function addMicrunRuntime(text: string, file: string, newFileVersion: ConfigVersion): ConfigEdit {
  if (text.trim() === '') {
    const block = micrunBlock(newFileVersion, { withVersion: true, withRunc: newFileVersion === 2 });
    const notes = [`wrote ${file} (config version ${newFileVersion}) with runtime ${HANDLER}`];
    return { text: verifyAdded('', block, file, newFileVersion), changed: true, notes };
  }
  const facts = inspectContainerdConfig(text, file);
  if (facts.micrun) {
    const type = facts.micrun.runtime_type;
    if (type !== RUNTIME_TYPE) {
      throw failedPrecondition(
        `${file} already has a CRI runtime "${HANDLER}" with runtime_type ${JSON.stringify(type)}: ` +
          `rename or remove it, then run micrun install again`,
      );
    }
    const how = facts.managedBlock ? 'added by micrun install' : 'written by hand; micrun uninstall leaves it';
    return { text, changed: false, notes: [`${file} already registers runtime ${HANDLER} (${how})`] };
  }
  // On config version 2, containerd 1.6 replaces its built-in runtime table with the file's: a
  // table holding only micrun would drop runc and the CRI plugin would fail to load.
  const withRunc = facts.version === 2 && !facts.runcPresent;
  const block = micrunBlock(facts.version, { withVersion: false, withRunc });
  const notes = [`added runtime ${HANDLER} (${RUNTIME_TYPE}) to ${file} (config version ${facts.version})`];
  if (withRunc) notes.push(`listed runc too: a version 2 config that names one runtime drops runc's default entry`);
  if (facts.criDisabled) notes.push(`warning: ${file} disables the CRI plugin; ctr and nerdctl work, Kubernetes does not`);
  return { text: verifyAdded(text, block, file, facts.version), changed: true, notes };
}

/** Removes the block addMicrunRuntime appended; anything written by hand stays. */
export function removeMicrunRuntime(text: string, file: string): ConfigEdit {
  const lines = text.split('\n');
  const begin = lines.findIndex((l) => l.trim() === BLOCK_BEGIN);
  if (begin < 0) return { text, changed: false, notes: [`${file} has no block added by micrun install`] };
  const end = lines.findIndex((l, i) => i > begin && l.trim() === BLOCK_END);
  if (end < 0) {
    throw failedPrecondition(`${file}: the micrun block starting at line ${begin + 1} has no end marker "${BLOCK_END}"; fix it by hand`);
  }
  // The blank line install put before the block goes with it.
  const from = begin > 0 && lines[begin - 1]!.trim() === '' ? begin - 1 : begin;
  const rest = [...lines.slice(0, from), ...lines.slice(end + 1)].join('\n');
  if (rest.trim() !== '') parseToml(rest, `${file} without the micrun block`);
  return { text: rest, changed: true, notes: [`removed runtime ${HANDLER} (the block micrun install added) from ${file}`] };
}

/** The TOML micrun install appends, markers included. */
export function micrunBlock(version: ConfigVersion, opts: { withVersion: boolean; withRunc: boolean }): string {
  const q = (s: string) => (version === 3 ? `'${s}'` : `"${s}"`); // the quoting `containerd config default` uses
  const table = (name: string) => `[${CRI[version].runtimes.map((k, i) => (i === 1 ? q(k) : k)).join('.')}.${name}]`;
  const lines = [BLOCK_BEGIN];
  if (opts.withVersion) lines.push(`version = ${version}`, '');
  if (opts.withRunc) lines.push(table('runc'), `  runtime_type = ${q(RUNC_RUNTIME_TYPE)}`, '');
  lines.push(
    table(HANDLER),
    `  runtime_type = ${q(RUNTIME_TYPE)}`,
    `  pod_annotations = [${q(ANNOTATION_GLOB)}]`,
    `  container_annotations = [${q(ANNOTATION_GLOB)}]`,
    BLOCK_END,
  );
  return `${lines.join('\n')}\n`;
}

/** Appends `block` and proves that the result is the old document plus exactly the block's tables. */
function verifyAdded(text: string, block: string, file: string, version: ConfigVersion): string {
  const joined = text === '' ? block : `${text.replace(/\n*$/, '\n')}\n${block}`;
  let after: Record<string, unknown>;
  try {
    after = parse(joined) as Record<string, unknown>;
  } catch (err) {
    throw cannotEdit(file, block, (err as Error).message);
  }
  const added = parse(block) as Record<string, unknown>;
  const runtimes = tableAt(after, CRI[version].runtimes);
  // A fresh parse of the old text (not a clone: the parser's objects must compare equal).
  const expected = parseToml(text, file);
  mergeInto(expected, added);
  if (!runtimes || !isDeepStrictEqual(after, expected)) {
    throw cannotEdit(file, block, 'appending the tables would change other settings');
  }
  return joined;
}

function cannotEdit(file: string, block: string, why: string) {
  return failedPrecondition(
    `cannot add runtime ${HANDLER} to ${file} safely (${why}); nothing was changed. Add this by hand:\n${block}`,
  );
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isTable(existing) && isTable(value)) mergeInto(existing, value);
    else target[key] = value;
  }
}

function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (err) {
    throw invalidArgument(`${file} is not valid TOML: ${(err as Error).message}`, err);
  }
}

function configVersion(doc: Record<string, unknown>, file: string): ConfigVersion {
  const version = doc.version ?? 1;
  if (version === 2 || version === 3) return version;
  if (version === 1) {
    throw failedPrecondition(
      `${file} is containerd config version 1 (no "version = 2/3" line): regenerate it with ` +
        '`containerd config default` (or `containerd config migrate` on 2.x), then run micrun install again',
    );
  }
  throw failedPrecondition(`${file}: containerd config version ${JSON.stringify(version)} is not one micrun knows (2 or 3)`);
}

function tableAt(doc: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> | undefined {
  let node: unknown = doc;
  for (const key of keys) {
    if (!isTable(node)) return undefined;
    node = node[key];
  }
  return isTable(node) ? node : undefined;
}

function stringOr(v: unknown, fallback: string): string {
  return typeof v === 'string' && v !== '' ? v : fallback;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** The config version containerd `major` reads natively: 3 from 2.0 on, else 2. */
export function configVersionFor(containerdMajor: number): ConfigVersion {
  return containerdMajor >= 2 ? 3 : 2;
}
