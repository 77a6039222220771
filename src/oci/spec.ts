// Reads `<bundle>/config.json` into the subset of the OCI runtime spec micrun uses. Everything
// else in the file is ignored on purpose (seccomp, namespaces mean nothing to an RTOS; hooks are
// read only to be reported as not run, see hooks.ts);
// what we do read is checked for shape, so a malformed spec fails Create with the file and the
// field instead of surfacing later as an undefined somewhere in the runtime.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { invalidArgument, notFound } from '../errors';
import { readHooks, type OciHook } from './hooks';

export interface OciProcess {
  args: string[];
  /** "KEY=VALUE" entries, as in the spec. */
  env: string[];
  terminal: boolean;
  cwd: string;
}

export interface OciMount {
  destination: string;
  type: string;
  source: string;
  options: string[];
}

export interface LinuxCpu {
  shares?: number;
  quota?: number;
  period?: number;
  cpus?: string;
  mems?: string;
}

export interface LinuxMemory {
  limit?: number;
  reservation?: number;
  swap?: number;
}

export interface LinuxResources {
  cpu?: LinuxCpu;
  memory?: LinuxMemory;
}

export interface OciSpec {
  ociVersion: string;
  process?: OciProcess;
  root?: { path: string; readonly: boolean };
  annotations: Record<string, string>;
  mounts: OciMount[];
  linux?: { resources?: LinuxResources };
  /** The spec's hooks, which micrun does not run (hooks.ts says why). */
  hooks: OciHook[];
}

/** Loads and validates `<bundleDir>/config.json`. */
export async function loadSpec(bundleDir: string): Promise<OciSpec> {
  const file = path.join(bundleDir, 'config.json');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(`OCI spec ${file} does not exist`, err);
    throw invalidArgument(`cannot read OCI spec ${file}: ${(err as Error).message}`, err);
  }
  return parseSpec(text, file);
}

/** Parses spec JSON text; `file` only names the source in error messages. */
export function parseSpec(text: string, file: string): OciSpec {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw invalidArgument(`OCI spec ${file} is not valid JSON: ${(err as Error).message}`, err);
  }
  const r = new ShapeReader(file);
  const top = r.object(raw, '(top level)');
  const spec: OciSpec = {
    ociVersion: r.optString(top.ociVersion, 'ociVersion') ?? '',
    annotations: r.stringMap(top.annotations, 'annotations'),
    mounts: r.optArray(top.mounts, 'mounts').map((m, i) => readMount(r, m, `mounts[${i}]`)),
    hooks: readHooks(top.hooks, file),
  };
  if (top.process !== undefined) {
    const p = r.object(top.process, 'process');
    spec.process = {
      args: r.stringArray(p.args, 'process.args'),
      env: r.stringArray(p.env, 'process.env'),
      terminal: r.optBoolean(p.terminal, 'process.terminal') ?? false,
      cwd: r.optString(p.cwd, 'process.cwd') ?? '/',
    };
  }
  if (top.root !== undefined) {
    const root = r.object(top.root, 'root');
    const rootPath = r.optString(root.path, 'root.path');
    if (!rootPath) throw r.error('root.path', 'must be a non-empty string');
    spec.root = { path: rootPath, readonly: r.optBoolean(root.readonly, 'root.readonly') ?? false };
  }
  if (top.linux !== undefined) {
    const linux = r.object(top.linux, 'linux');
    spec.linux = {};
    if (linux.resources !== undefined) spec.linux.resources = readResources(r, linux.resources, 'linux.resources');
  }
  return spec;
}

/**
 * Validates a LinuxResources object that arrives on its own (the Update RPC carries it as JSON).
 * `source` names where it came from in error messages.
 */
export function parseLinuxResources(raw: unknown, source = 'update request'): LinuxResources {
  return readResources(new ShapeReader(source), raw, 'linux.resources');
}

function readMount(r: ShapeReader, raw: unknown, where: string): OciMount {
  const m = r.object(raw, where);
  const mount = {
    destination: r.optString(m.destination, `${where}.destination`) ?? '',
    type: r.optString(m.type, `${where}.type`) ?? '',
    source: r.optString(m.source, `${where}.source`) ?? '',
    options: r.stringArray(m.options, `${where}.options`),
  };
  // An idmapped mount asks for file ownership that micrun cannot give (it makes no spec mounts):
  // refused by name rather than silently dropped — on every containerd (2.x's `-info` check is
  // told to pass such specs on to us, see src/shim/runtime-features.ts).
  const mapped = ['uidMappings', 'gidMappings'].filter((k) => m[k] !== undefined && m[k] !== null);
  const options = mount.options.filter((o) => o === 'idmap' || o === 'ridmap');
  if (mapped.length > 0 || options.length > 0) {
    throw r.error(
      where,
      `(${mount.destination || 'no destination'}) is an idmap mount (${[...mapped, ...options.map((o) => `option "${o}"`)].join(', ')}): ` +
        'micrun does not support idmap mounts; remove the mapping from the mount',
    );
  }
  return mount;
}

function readResources(r: ShapeReader, raw: unknown, where: string): LinuxResources {
  const res = r.object(raw, where);
  const out: LinuxResources = {};
  if (res.cpu !== undefined && res.cpu !== null) {
    const cpu = r.object(res.cpu, `${where}.cpu`);
    out.cpu = dropUndefined({
      shares: r.optNumber(cpu.shares, `${where}.cpu.shares`),
      quota: r.optNumber(cpu.quota, `${where}.cpu.quota`),
      period: r.optNumber(cpu.period, `${where}.cpu.period`),
      cpus: r.optString(cpu.cpus, `${where}.cpu.cpus`),
      mems: r.optString(cpu.mems, `${where}.cpu.mems`),
    });
  }
  if (res.memory !== undefined && res.memory !== null) {
    const mem = r.object(res.memory, `${where}.memory`);
    out.memory = dropUndefined({
      limit: r.optNumber(mem.limit, `${where}.memory.limit`),
      reservation: r.optNumber(mem.reservation, `${where}.memory.reservation`),
      swap: r.optNumber(mem.swap, `${where}.memory.swap`),
    });
  }
  return out;
}

function dropUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Shape checks that name the file and the dotted field of the first mismatch. */
class ShapeReader {
  constructor(private readonly file: string) {}

  error(field: string, problem: string) {
    return invalidArgument(`invalid OCI spec ${this.file}: ${field} ${problem}`);
  }

  object(v: unknown, field: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw this.error(field, `must be an object, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  optString(v: unknown, field: string): string | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string') throw this.error(field, `must be a string, got ${describe(v)}`);
    return v;
  }

  optBoolean(v: unknown, field: string): boolean | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'boolean') throw this.error(field, `must be a boolean, got ${describe(v)}`);
    return v;
  }

  optNumber(v: unknown, field: string): number | undefined {
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !Number.isInteger(v)) {
      throw this.error(field, `must be an integer, got ${describe(v)}`);
    }
    return v;
  }

  optArray(v: unknown, field: string): unknown[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw this.error(field, `must be an array, got ${describe(v)}`);
    return v;
  }

  stringArray(v: unknown, field: string): string[] {
    return this.optArray(v, field).map((item, i) => {
      if (typeof item !== 'string') throw this.error(`${field}[${i}]`, `must be a string, got ${describe(item)}`);
      return item;
    });
  }

  stringMap(v: unknown, field: string): Record<string, string> {
    if (v === undefined || v === null) return {};
    const obj = this.object(v, field);
    const out: Record<string, string> = {};
    for (const [k, value] of Object.entries(obj)) {
      if (typeof value !== 'string') throw this.error(`${field}["${k}"]`, `must be a string, got ${describe(value)}`);
      out[k] = value;
    }
    return out;
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return `a ${typeof v}`;
}
