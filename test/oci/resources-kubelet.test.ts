// The resource mapping for what kubelet and containerd's CRI plugin actually put in a runtime
// spec (and in Update) for each Kubernetes QoS class: CRI always sends cpus/mems as strings ("" =
// unset), a quota of 0 when there is no CPU limit, and shares 2 for BestEffort pods. Pins that
// those shapes map to sane micad parameters (docs/resources.md, docs/kubernetes.md).
import { describe, expect, test } from 'vitest';
import { Code } from '../../src/errors';
import { planCreateResources, planUpdate, type LinuxResources } from '../../src/oci';

const defaults = { memoryMiB: 32, vcpus: 1, maxVcpus: 8 };
const MiB = 1024 * 1024;

/** linux.resources as containerd 1.6's CRI plugin writes them for a kubelet container config. */
function fromKubelet(r: { shares?: number; quota?: number; period?: number; memory?: number; cpus?: string }): LinuxResources {
  return {
    cpu: {
      cpus: r.cpus ?? '',
      mems: '',
      ...(r.shares ? { shares: r.shares } : {}),
      ...(r.quota ? { quota: r.quota } : {}),
      ...(r.period ? { period: r.period } : {}),
    },
    ...(r.memory ? { memory: { limit: r.memory } } : {}),
  } as LinuxResources;
}

describe('create parameters per QoS class', () => {
  test.each([
    // [name, kubelet resources, expected micad create fields]
    ['BestEffort (no requests, no limits): defaults, lowest weight, uncapped', { shares: 2, period: 100_000 }, { vcpus: 1, cpuCapacity: 0, cpuWeight: 1, memoryMiB: 32, maxMemoryMiB: 32 }],
    ['Burstable cpu 250m..1, memory 48Mi', { shares: 256, quota: 100_000, period: 100_000, memory: 48 * MiB }, { vcpus: 1, cpuCapacity: 100, cpuWeight: 64, memoryMiB: 48, maxMemoryMiB: 48 }],
    ['Burstable limit 500m: half a CPU', { shares: 512, quota: 50_000, period: 100_000 }, { vcpus: 1, cpuCapacity: 50, cpuWeight: 128 }],
    ['Guaranteed 2 CPUs, 128Mi', { shares: 2048, quota: 200_000, period: 100_000, memory: 128 * MiB }, { vcpus: 2, cpuCapacity: 200, cpuWeight: 512, memoryMiB: 128 }],
    ['Guaranteed with the static CPU manager: pinned cpuset', { shares: 2048, quota: 200_000, period: 100_000, cpus: '2-3' }, { vcpus: 2, cpus: '2-3', cpuCapacity: 200 }],
    ['limit above max_vcpus CPUs is clamped, not refused', { shares: 1024, quota: 1_600_000, period: 100_000 }, { vcpus: 8, cpuCapacity: 800 }],
  ])('%s', (_name, kubelet, expected) => {
    expect(planCreateResources(fromKubelet(kubelet), defaults)).toMatchObject(expected);
  });

  test('CRI\'s empty cpuset and mems strings are "unset", never a cpuset for micad', () => {
    const out = planCreateResources(fromKubelet({ shares: 1024 }), defaults);
    expect(out.cpus).toBeUndefined();
  });
});

describe('UpdateContainerResources (kubelet in-place resize) → micad set', () => {
  const guaranteed = planCreateResources(fromKubelet({ shares: 2048, quota: 200_000, period: 100_000, memory: 128 * MiB }), defaults);

  test('resize down to 1.5 CPUs and 96Mi: capacity, memory (shrinking: memory first), weight; vCPUs stay', () => {
    const { calls, next } = planUpdate(fromKubelet({ shares: 1536, quota: 150_000, period: 100_000, memory: 96 * MiB }), guaranteed);
    expect(calls).toEqual([
      { key: 'cpucapacity', value: 150 },
      { key: 'memory', value: 96 },
      { key: 'maxmemory', value: 96 },
      { key: 'cpuweight', value: 384 },
    ]);
    expect(next).toMatchObject({ vcpus: 2, cpuCapacity: 150, memoryMiB: 96, cpuWeight: 384 });
  });

  test('a resize that asks for more than the vCPUs the guest has is capped at vcpus × 100', () => {
    const { calls } = planUpdate(fromKubelet({ shares: 4096, quota: 400_000, period: 100_000 }), guaranteed);
    expect(calls).toEqual([{ key: 'cpuweight', value: 1024 }]); // capacity stays at 200 = 2 vCPUs
  });

  test('dropping the CPU limit (quota -1) uncaps; memory limit 0 leaves memory as it is', () => {
    const { calls, next } = planUpdate({ cpu: { quota: -1, period: 100_000, cpus: '' }, memory: { limit: 0 } } as LinuxResources, guaranteed);
    expect(calls).toEqual([{ key: 'cpucapacity', value: 0 }]);
    expect(next.memoryMiB).toBe(128);
  });

  test('the same resources again send nothing (kubelet repeats updates)', () => {
    expect(planUpdate(fromKubelet({ shares: 2048, quota: 200_000, period: 100_000, memory: 128 * MiB }), guaranteed).calls).toEqual([]);
  });

  test('an invalid cpuset in an update is InvalidArgument naming the field, and plans nothing', () => {
    expect(() => planUpdate(fromKubelet({ cpus: '0-' }), guaranteed)).toThrow(
      expect.objectContaining({ code: Code.InvalidArgument, message: expect.stringContaining('linux.resources.cpu.cpus') }),
    );
  });
});
