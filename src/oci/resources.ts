// Pure planning of OCI linux.resources → guest resources for micad: the create-time fields of
// CreateParams, and for Update an ordered list of micad `set` calls using the keys micad really
// accepts (cpucapacity, cpuweight, cpu, vcpu, memory, maxmemory — the Go micrun sent CPUCpacity
// and MaxMem, which micad rejects). No I/O here; docs/resources.md carries the same table.
//
//   cpu.cpus          → cpus (canonical cpuset) and vcpus = number of CPUs
//   cpu.quota/period  → cpuCapacity = ceil(quota*100/period) % of one CPU; quota ≤ 0/unset → 0
//                       (uncapped); capped at vcpus*100
//   cpu.shares        → cpuWeight = clamp(round(shares/4), 1, 65535); 1024 → 256 (Xen default)
//   memory.limit      → memoryMiB = maxMemoryMiB = ceil(limit / MiB)
//   memory.reservation→ the same when there is no limit
import type { CreateParams, ResourceKey } from '../mica/types';
import { createFieldMaxBytes, MAX_COMMAND_BYTES } from '../mica/wire';
import { invalidArgument } from '../errors';
import { formatCpuset, parseCpuset } from './cpuset';
import type { LinuxCpu, LinuxMemory, LinuxResources } from './spec';

const MiB = 1024 * 1024;
/** Above this a memory value is a unit mistake, not a request (and would overflow micad's int32). */
export const MAX_MEMORY_MIB = 1024 * 1024; // 1 TiB
const DEFAULT_CFS_PERIOD_US = 100_000;
/** create_msg.cpu_str is char[128] including the terminating NUL. */
const CREATE_CPUSTR_MAX = createFieldMaxBytes('cpu_str');

export interface ResourceDefaults {
  /** [resources] default_memory_mib */
  memoryMiB: number;
  /** [resources] default_vcpus */
  vcpus: number;
  /** [resources] max_vcpus */
  maxVcpus: number;
}

/** Per-container overrides from annotations (container.min_memory_mb, container.max_vcpu_num). */
export interface ResourceHints {
  minMemoryMiB?: number;
  maxVcpus?: number;
}

export type GuestResources = Required<Pick<CreateParams, 'vcpus' | 'maxVcpus' | 'cpuCapacity' | 'memoryMiB' | 'maxMemoryMiB'>> &
  Pick<CreateParams, 'cpus' | 'cpuWeight'>;

export interface SetCall {
  key: ResourceKey;
  value: string | number;
}

/** The GuestResources field each micad `set` key changes. */
const SET_KEY_FIELD = {
  cpucapacity: 'cpuCapacity',
  cpuweight: 'cpuWeight',
  cpu: 'cpus',
  vcpu: 'vcpus',
  memory: 'memoryMiB',
  maxmemory: 'maxMemoryMiB',
} as const satisfies Record<ResourceKey, keyof GuestResources>;

/** `current` with one confirmed `set` applied: what micad holds after that call succeeded. */
export function applySetCall(current: GuestResources, call: SetCall): GuestResources {
  return { ...current, [SET_KEY_FIELD[call.key]]: call.value };
}

/** CreateParams resource fields for a new container. */
export function planCreateResources(
  res: LinuxResources | undefined,
  defaults: ResourceDefaults,
  hints: ResourceHints = {},
): GuestResources {
  const maxVcpus = hints.maxVcpus ?? defaults.maxVcpus;
  const cpu = planCpu(res?.cpu, maxVcpus, Math.min(defaults.vcpus, maxVcpus));
  const memoryMiB = memoryFromSpec(res?.memory) ?? hints.minMemoryMiB ?? defaults.memoryMiB;
  const out: GuestResources = {
    vcpus: cpu.vcpus,
    maxVcpus,
    cpuCapacity: cpu.capacity ?? 0,
    // Xen on ARM has no populate-on-demand: the maximum must equal the initial memory.
    memoryMiB,
    maxMemoryMiB: memoryMiB,
  };
  if (cpu.cpus !== undefined) {
    if (cpu.cpus.length > CREATE_CPUSTR_MAX) {
      throw invalidArgument(`linux.resources.cpu.cpus is ${cpu.cpus.length} characters after normalising; micad takes at most ${CREATE_CPUSTR_MAX}`);
    }
    out.cpus = cpu.cpus;
  }
  if (cpu.weight !== undefined) out.cpuWeight = cpu.weight;
  return out;
}

/**
 * The micad `set` calls that move a running container from `current` to what an Update asks
 * for, in the order they must run, plus the resulting resources (persist them once all calls
 * succeeded). Only fields present in the request are changed; unchanged values are not sent.
 *
 * Order: cpucapacity → memory (maxmemory first when growing, memory first when shrinking, so
 * memory never exceeds its maximum) → cpu (pinning) → cpuweight → vcpu.
 */
export function planUpdate(res: LinuxResources, current: GuestResources): { calls: SetCall[]; next: GuestResources } {
  const next: GuestResources = { ...current };
  const cpu = planCpu(res.cpu, current.maxVcpus, current.vcpus);
  if (cpu.cpus !== undefined) {
    next.cpus = cpu.cpus;
    next.vcpus = cpu.vcpus;
  }
  if (cpu.capacity !== undefined) next.cpuCapacity = cpu.capacity;
  if (next.cpuCapacity > next.vcpus * 100) next.cpuCapacity = next.vcpus * 100;
  if (cpu.weight !== undefined) next.cpuWeight = cpu.weight;
  const mem = memoryFromSpec(res.memory);
  if (mem !== undefined) {
    next.memoryMiB = mem;
    next.maxMemoryMiB = mem;
  }

  const calls: SetCall[] = [];
  const push = (key: ResourceKey, before: string | number | undefined, after: string | number | undefined) => {
    if (after === undefined || after === before) return;
    const command = `set ${key} ${after}`;
    if (command.length > MAX_COMMAND_BYTES) {
      const field = key === 'cpu' ? 'linux.resources.cpu.cpus' : `linux.resources (${key})`;
      throw invalidArgument(`${field}: "${command}" is longer than the ${MAX_COMMAND_BYTES} bytes micad reads per command`);
    }
    calls.push({ key, value: after });
  };
  push('cpucapacity', current.cpuCapacity, next.cpuCapacity);
  if (next.memoryMiB < current.memoryMiB) {
    push('memory', current.memoryMiB, next.memoryMiB);
    push('maxmemory', current.maxMemoryMiB, next.maxMemoryMiB);
  } else {
    push('maxmemory', current.maxMemoryMiB, next.maxMemoryMiB);
    push('memory', current.memoryMiB, next.memoryMiB);
  }
  push('cpu', current.cpus, next.cpus);
  push('cpuweight', current.cpuWeight, next.cpuWeight);
  push('vcpu', current.vcpus, next.vcpus);
  return { calls, next };
}

interface CpuPlan {
  cpus?: string;
  vcpus: number;
  /** undefined: the request said nothing about quota */
  capacity?: number;
  weight?: number;
}

function planCpu(cpu: LinuxCpu | undefined, maxVcpus: number, fallbackVcpus: number): CpuPlan {
  const plan: CpuPlan = { vcpus: fallbackVcpus };
  if (!cpu) return plan;

  // "" is how CRI says "no cpuset"; anything else must parse.
  if (cpu.cpus !== undefined && cpu.cpus.trim() !== '') {
    const list = parseCpuset(cpu.cpus, 'linux.resources.cpu.cpus');
    if (list.length > maxVcpus) {
      throw invalidArgument(
        `linux.resources.cpu.cpus="${cpu.cpus}" names ${list.length} CPUs but a container may have at most ${maxVcpus} vCPUs ` +
          '(raise [resources] max_vcpus or annotation org.openeuler.micrun.container.max_vcpu_num)',
      );
    }
    plan.cpus = formatCpuset(list);
    plan.vcpus = list.length;
  }

  if (cpu.period !== undefined && cpu.period <= 0) {
    throw invalidArgument(`linux.resources.cpu.period=${cpu.period} is invalid: the CFS period must be a positive number of microseconds`);
  }
  if (cpu.quota !== undefined) {
    if (cpu.quota <= 0) {
      plan.capacity = 0; // -1 / 0: no quota, i.e. uncapped
    } else {
      const capacity = ceilDiv(cpu.quota, 100, cpu.period ?? DEFAULT_CFS_PERIOD_US);
      // Without a cpuset the quota decides how many vCPUs the guest needs (bounded by the maximum:
      // a quota is an upper bound, so clamping it cannot break a promise).
      if (plan.cpus === undefined) plan.vcpus = Math.min(Math.max(Math.ceil(capacity / 100), 1), maxVcpus);
      plan.capacity = Math.min(capacity, plan.vcpus * 100);
    }
  }

  if (cpu.shares !== undefined && cpu.shares !== 0) {
    if (cpu.shares < 0) throw invalidArgument(`linux.resources.cpu.shares=${cpu.shares} is invalid: shares cannot be negative`);
    plan.weight = Math.min(Math.max(Math.round(cpu.shares / 4), 1), 65535);
  }
  return plan;
}

/** MiB from limit, else reservation; undefined when neither is set (> 0). */
function memoryFromSpec(mem: LinuxMemory | undefined): number | undefined {
  if (!mem) return undefined;
  if (mem.limit !== undefined && mem.limit > 0) return toMiB(mem.limit, 'linux.resources.memory.limit');
  if (mem.reservation !== undefined && mem.reservation > 0) return toMiB(mem.reservation, 'linux.resources.memory.reservation');
  return undefined;
}

function toMiB(bytes: number, field: string): number {
  if (bytes < MiB) throw invalidArgument(`${field}=${bytes} bytes is below 1 MiB, the smallest memory micad can give a guest`);
  const mib = Math.ceil(bytes / MiB);
  if (mib > MAX_MEMORY_MIB) throw invalidArgument(`${field}=${bytes} bytes (${mib} MiB) is above the ${MAX_MEMORY_MIB} MiB micrun accepts`);
  return mib;
}

/** ceil(a*b/c) exactly (a*b may exceed 2^53). */
function ceilDiv(a: number, b: number, c: number): number {
  const num = BigInt(a) * BigInt(b);
  const den = BigInt(c);
  const q = (num + den - 1n) / den;
  return q > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(q);
}
