// The text-level edit of containerd's config.toml behind `micrun install` / `uninstall`: every
// other byte stays, runc stays listed on version 2, a second install changes nothing, uninstall
// gives back the original bytes, and anything it cannot edit safely is refused unchanged.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'smol-toml';
import { describe, expect, test } from 'vitest';
import { addMicrunRuntime, BLOCK_BEGIN, inspectContainerdConfig, removeMicrunRuntime } from '../../src/cli/containerd-config';
import { Code, CodedError } from '../../src/errors';

const FILE = '/etc/containerd/config.toml';

const HAND_WRITTEN_V2 = `# site config — keep this comment
version = 2
root = "/var/lib/containerd"  # trailing comment

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "registry.k8s.io/pause:3.6"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      SystemdCgroup = true

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.kata]
    runtime_type = "io.containerd.kata.v2"
[ttrpc]
  address = ""`; // no final newline: the edit must not glue its header onto this line

const codeOf = (fn: () => unknown): Code | undefined => {
  try {
    fn();
  } catch (err) {
    return err instanceof CodedError ? err.code : undefined;
  }
  return undefined;
};
const runtimesV2 = (text: string) => (parse(text) as any).plugins['io.containerd.grpc.v1.cri'].containerd.runtimes;

describe('addMicrunRuntime', () => {
  test('appends the micrun handler and leaves every byte of the file before it as it was', () => {
    const edit = addMicrunRuntime(HAND_WRITTEN_V2, FILE, 2);
    expect(edit.changed).toBe(true);
    expect(edit.text.startsWith(`${HAND_WRITTEN_V2}\n`)).toBe(true);
    const runtimes = runtimesV2(edit.text);
    expect(Object.keys(runtimes).sort()).toEqual(['kata', 'micrun', 'runc']);
    expect(runtimes.micrun).toEqual({
      runtime_type: 'io.containerd.mica.v2',
      pod_annotations: ['org.openeuler.micrun.*'],
      container_annotations: ['org.openeuler.micrun.*'],
    });
    expect(runtimes.runc.options).toEqual({ SystemdCgroup: true });
  });

  test('a second install changes nothing', () => {
    const once = addMicrunRuntime(HAND_WRITTEN_V2, FILE, 2).text;
    const twice = addMicrunRuntime(once, FILE, 2);
    expect(twice).toMatchObject({ changed: false, text: once });
  });

  test('version 2 without runc listed: runc is added too, or 1.6 would drop it and its CRI plugin fail', () => {
    const edit = addMicrunRuntime('version = 2\n[plugins."io.containerd.grpc.v1.cri"]\n  sandbox_image = "p:1"\n', FILE, 2);
    expect(runtimesV2(edit.text).runc).toEqual({ runtime_type: 'io.containerd.runc.v2' });
    expect(edit.notes.join('\n')).toContain('listed runc too');
  });

  test('version 3 (containerd 2.x merges runtimes over its defaults): only micrun is added', () => {
    const edit = addMicrunRuntime("version = 3\n[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'p:1'\n", FILE, 3);
    const runtimes = (parse(edit.text) as any).plugins['io.containerd.cri.v1.runtime'].containerd.runtimes;
    expect(Object.keys(runtimes)).toEqual(['micrun']);
    expect(runtimes.micrun.runtime_type).toBe('io.containerd.mica.v2');
  });

  test('no config yet: a new one in the format of the installed containerd, with runc on version 2', () => {
    const v2 = parse(addMicrunRuntime('', FILE, 2).text) as any;
    expect(v2.version).toBe(2);
    expect(Object.keys(v2.plugins['io.containerd.grpc.v1.cri'].containerd.runtimes).sort()).toEqual(['micrun', 'runc']);
    const v3 = parse(addMicrunRuntime('  \n', FILE, 3).text) as any;
    expect(v3.version).toBe(3);
    expect(Object.keys(v3.plugins['io.containerd.cri.v1.runtime'].containerd.runtimes)).toEqual(['micrun']);
  });

  test('a micrun handler written by hand with our runtime type is kept as is', () => {
    const text = `${HAND_WRITTEN_V2}\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]\n  runtime_type = "io.containerd.mica.v2"\n`;
    const edit = addMicrunRuntime(text, FILE, 2);
    expect(edit).toMatchObject({ changed: false, text });
    expect(edit.notes[0]).toContain('written by hand');
  });

  test.each([
    ['a handler "micrun" of another runtime type', `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]\n  runtime_type = "io.containerd.runc.v2"\n`, Code.FailedPrecondition],
    ['config version 1 (no version line)', '[plugins.cri]\n  sandbox_image = "p"\n', Code.FailedPrecondition],
    ['an unknown config version', 'version = 9\n', Code.FailedPrecondition],
    ['invalid TOML', 'version = 2\n[plugins\n', Code.InvalidArgument],
    // A table header after an inline table of the same name is invalid TOML: refused, not written.
    ['runtimes as an inline table', 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  runtimes = { runc = { runtime_type = "io.containerd.runc.v2" } }\n', Code.FailedPrecondition],
  ])('refuses %s with a coded error', (_what, text, code) => {
    expect(codeOf(() => addMicrunRuntime(text, FILE, 2))).toBe(code);
  });

  test('the refusal of an unsafe edit shows the snippet to add by hand', () => {
    const text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  runtimes = { runc = { runtime_type = "io.containerd.runc.v2" } }\n';
    expect(() => addMicrunRuntime(text, FILE, 2)).toThrow(/nothing was changed\. Add this by hand:\n# >>> micrun/);
  });
});

describe('removeMicrunRuntime', () => {
  test('gives back the bytes the file had before install', () => {
    const installed = addMicrunRuntime(HAND_WRITTEN_V2, FILE, 2).text;
    const removed = removeMicrunRuntime(installed, FILE);
    expect(removed.changed).toBe(true);
    // install added the final newline the original lacked; everything else is the original.
    expect(removed.text).toBe(`${HAND_WRITTEN_V2}\n`);
  });

  test('leaves a handler written by hand and changes nothing without our block', () => {
    const text = `version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.micrun]\n  runtime_type = "io.containerd.mica.v2"\n`;
    expect(removeMicrunRuntime(text, FILE)).toMatchObject({ changed: false, text });
  });

  test('a new config install wrote becomes empty again (the installer then removes the file)', () => {
    expect(removeMicrunRuntime(addMicrunRuntime('', FILE, 3).text, FILE).text.trim()).toBe('');
  });

  test('a block whose end marker was deleted is refused', () => {
    const broken = `${HAND_WRITTEN_V2}\n${BLOCK_BEGIN}\n[x]\n`;
    expect(codeOf(() => removeMicrunRuntime(broken, FILE))).toBe(Code.FailedPrecondition);
  });
});

describe('inspectContainerdConfig', () => {
  test('reads version, handler, runc, CRI disabled and whether install added the block', () => {
    const facts = inspectContainerdConfig(addMicrunRuntime(`disabled_plugins = ["io.containerd.grpc.v1.cri"]\n${HAND_WRITTEN_V2}`, FILE, 2).text, FILE);
    expect(facts).toMatchObject({ version: 2, runcPresent: true, criDisabled: true, managedBlock: true });
    expect(facts.micrun?.runtime_type).toBe('io.containerd.mica.v2');
    expect(inspectContainerdConfig('version = 2\n', FILE)).toMatchObject({ micrun: undefined, runcPresent: false, managedBlock: false });
  });
});

// The real defaults of every containerd build the e2e matrix has (1.6 is always there).
describe.each(
  (existsSync('/var/cache/micrun/containerd/matrix') ? readFileSync('/var/cache/micrun/containerd/matrix', 'utf8') : '1.6 /usr/bin')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => l.trim().split(/\s+/) as [string, string]),
)('`containerd config default` of %s', (_version, binDir) => {
  test('install then uninstall gives back the same bytes; the runtime table keeps runc', () => {
    const original = execFileSync(`${binDir}/containerd`, ['config', 'default'], { encoding: 'utf8' });
    const version = inspectContainerdConfig(original, FILE).version;
    const installed = addMicrunRuntime(original, FILE, version);
    expect(installed.changed).toBe(true);
    expect(inspectContainerdConfig(installed.text, FILE)).toMatchObject({ runcPresent: true, managedBlock: true });
    expect(removeMicrunRuntime(installed.text, FILE).text).toBe(original);
  });
});
