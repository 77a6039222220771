import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { formatCpuset, parseCpuset, planCreateResources, planUpdate, type GuestResources, type LinuxResources } from '../../src/oci';

const defaults = { memoryMiB: 32, vcpus: 1, maxVcpus: 8 };
const MiB = 1024 * 1024;

describe('planCreateResources', () => {
  test.each<[string, LinuxResources | undefined, Partial<GuestResources>]>([
    ['nothing set → config defaults, uncapped', undefined, { vcpus: 1, maxVcpus: 8, cpuCapacity: 0, memoryMiB: 32, maxMemoryMiB: 32 }],
    ['empty cpu/memory → defaults', { cpu: {}, memory: {} }, { vcpus: 1, cpuCapacity: 0, memoryMiB: 32 }],
    ['cpuset 0-3 → 4 vCPUs pinned', { cpu: { cpus: '0-3' } }, { cpus: '0-3', vcpus: 4 }],
    ['cpuset is canonicalised', { cpu: { cpus: '5,0,1,2,4' } }, { cpus: '0-2,4-5', vcpus: 5 }],
    ['empty cpuset string (CRI) = unset', { cpu: { cpus: '' } }, { vcpus: 1 }],
    ['quota 50000/100000 → 50 %', { cpu: { quota: 50000, period: 100000 } }, { cpuCapacity: 50, vcpus: 1 }],
    ['quota rounds up', { cpu: { quota: 33333, period: 100000 } }, { cpuCapacity: 34 }],
    ['quota 150% → 2 vCPUs', { cpu: { quota: 150000, period: 100000 } }, { cpuCapacity: 150, vcpus: 2 }],
    ['quota without period uses the CFS default 100 ms', { cpu: { quota: 20000 } }, { cpuCapacity: 20 }],
    ['quota -1 → uncapped', { cpu: { quota: -1, period: 100000 } }, { cpuCapacity: 0 }],
    ['quota 0 → uncapped', { cpu: { quota: 0, period: 100000 } }, { cpuCapacity: 0 }],
    ['huge quota is clamped to max vCPUs', { cpu: { quota: 9e15, period: 1000 } }, { vcpus: 8, cpuCapacity: 800 }],
    ['quota above the cpuset is capped at #cpus*100', { cpu: { cpus: '0-1', quota: 400000, period: 100000 } }, { vcpus: 2, cpuCapacity: 200 }],
    ['shares 1024 → weight 256 (Xen default)', { cpu: { shares: 1024 } }, { cpuWeight: 256 }],
    ['shares 2 → weight 1 (minimum)', { cpu: { shares: 2 } }, { cpuWeight: 1 }],
    ['shares 262144 → 65535 (maximum)', { cpu: { shares: 262144 * 4 } }, { cpuWeight: 65535 }],
    ['shares 0 → weight unset', { cpu: { shares: 0 } }, { cpuWeight: undefined }],
    ['limit 64 MiB', { memory: { limit: 64 * MiB } }, { memoryMiB: 64, maxMemoryMiB: 64 }],
    ['limit rounds up to whole MiB', { memory: { limit: 64 * MiB + 1 } }, { memoryMiB: 65, maxMemoryMiB: 65 }],
    ['limit -1 → default', { memory: { limit: -1 } }, { memoryMiB: 32 }],
    ['limit 0 → default', { memory: { limit: 0 } }, { memoryMiB: 32 }],
    ['reservation when no limit', { memory: { reservation: 16 * MiB } }, { memoryMiB: 16, maxMemoryMiB: 16 }],
    ['limit wins over reservation', { memory: { limit: 128 * MiB, reservation: 16 * MiB } }, { memoryMiB: 128 }],
  ])('%s', (_name, res, expected) => {
    const out = planCreateResources(res, defaults);
    for (const [k, v] of Object.entries(expected)) expect(out[k as keyof GuestResources], k).toBe(v);
  });

  test('annotation hints: min_memory_mb when the spec has no memory, max_vcpu_num bounds vCPUs', () => {
    expect(planCreateResources(undefined, defaults, { minMemoryMiB: 48, maxVcpus: 2 })).toMatchObject({ memoryMiB: 48, maxVcpus: 2 });
    expect(planCreateResources({ memory: { limit: 8 * MiB } }, defaults, { minMemoryMiB: 48 }).memoryMiB).toBe(8);
    expect(() => planCreateResources({ cpu: { cpus: '0-3' } }, defaults, { maxVcpus: 2 })).toThrow(/at most 2 vCPUs/);
  });

  test.each<[string, LinuxResources, string]>([
    ['invalid cpuset', { cpu: { cpus: '0,,2' } }, 'linux.resources.cpu.cpus'],
    ['negative cpuset', { cpu: { cpus: '-1' } }, 'linux.resources.cpu.cpus'],
    ['backwards range', { cpu: { cpus: '3-1' } }, 'linux.resources.cpu.cpus'],
    ['letters', { cpu: { cpus: 'all' } }, 'linux.resources.cpu.cpus'],
    ['more CPUs than max_vcpus', { cpu: { cpus: '0-15' } }, 'linux.resources.cpu.cpus'],
    ['period 0', { cpu: { quota: 1000, period: 0 } }, 'linux.resources.cpu.period'],
    ['negative period', { cpu: { period: -5 } }, 'linux.resources.cpu.period'],
    ['negative shares', { cpu: { shares: -4 } }, 'linux.resources.cpu.shares'],
    ['limit below 1 MiB', { memory: { limit: 1000 } }, 'linux.resources.memory.limit'],
    ['absurd limit (int64 max)', { memory: { limit: 9223372036854775807 } }, 'linux.resources.memory.limit'],
    ['reservation below 1 MiB', { memory: { reservation: 5 } }, 'linux.resources.memory.reservation'],
  ])('%s → InvalidArgument naming %s', (_name, res, field) => {
    expect(() => planCreateResources(res, defaults)).toThrow(expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining(field) }));
  });
});

describe('planUpdate', () => {
  const current: GuestResources = { vcpus: 2, maxVcpus: 8, cpuCapacity: 0, memoryMiB: 64, maxMemoryMiB: 64, cpus: '0-1', cpuWeight: 256 };

  test('uses only the keys micad accepts, in order, and only for changes', () => {
    const { calls, next } = planUpdate(
      { cpu: { quota: 50000, period: 100000, cpus: '2-4', shares: 2048 }, memory: { limit: 128 * MiB } },
      current,
    );
    expect(calls).toEqual([
      { key: 'cpucapacity', value: 50 },
      { key: 'maxmemory', value: 128 },
      { key: 'memory', value: 128 },
      { key: 'cpu', value: '2-4' },
      { key: 'cpuweight', value: 512 },
      { key: 'vcpu', value: 3 },
    ]);
    expect(next).toEqual({ vcpus: 3, maxVcpus: 8, cpuCapacity: 50, memoryMiB: 128, maxMemoryMiB: 128, cpus: '2-4', cpuWeight: 512 });
  });

  test('regression: never the Go micrun keys CPUCpacity / MaxMem', () => {
    const { calls } = planUpdate({ cpu: { quota: 10000, period: 100000 }, memory: { limit: 256 * MiB } }, current);
    const keys = calls.map((c) => c.key);
    expect(keys).toEqual(['cpucapacity', 'maxmemory', 'memory']);
    expect(keys.every((k) => k === k.toLowerCase())).toBe(true);
  });

  test('shrinking memory lowers memory before its maximum', () => {
    expect(planUpdate({ memory: { limit: 32 * MiB } }, current).calls).toEqual([
      { key: 'memory', value: 32 },
      { key: 'maxmemory', value: 32 },
    ]);
  });

  test('an unchanged or empty request sends nothing', () => {
    expect(planUpdate({}, current).calls).toEqual([]);
    expect(planUpdate({ cpu: { cpus: '0,1', shares: 1024 }, memory: { limit: 64 * MiB } }, current).calls).toEqual([]);
  });

  test('a cpuset too long for micad\'s 31-byte command is refused, not truncated', () => {
    const cpus = Array.from({ length: 10 }, (_, i) => i * 3).join(','); // "0,3,…,27": 23 chars + "set cpu "
    expect(() => planUpdate({ cpu: { cpus } }, { ...current, maxVcpus: 16 })).toThrow(/linux\.resources\.cpu\.cpus.*31 bytes/);
  });

  test('invalid values are refused before any call is planned', () => {
    expect(() => planUpdate({ cpu: { cpus: '1-' } }, current)).toThrow(expect.objectContaining({ code: Code.InvalidArgument }));
    expect(() => planUpdate({ memory: { limit: 12 } }, current)).toThrow(/linux\.resources\.memory\.limit/);
  });
});

describe('cpuset', () => {
  test.each([
    ['0-3', [0, 1, 2, 3], '0-3'],
    ['0,2,4-5', [0, 2, 4, 5], '0,2,4-5'],
    [' 7 ', [7], '7'],
    ['1,1,0', [0, 1], '0-1'],
  ])('%j', (text, cpus, canonical) => {
    expect(parseCpuset(text, 'f')).toEqual(cpus);
    expect(formatCpuset(cpus)).toBe(canonical);
  });
  test.each(['', ',', '0-', '-1', '1-0', 'a', '0-99999', '0;1'])('%j is refused naming the field', (text) => {
    expect(() => parseCpuset(text, 'linux.resources.cpu.cpus')).toThrow(/linux\.resources\.cpu\.cpus/);
  });
});
