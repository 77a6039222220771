// What containerd 1.6, 1.7 and 2.x each do with three things micrun now offers them, driven with
// ctr against micad-sim:
//  - the runtime options (`ctr run --runtime-config-path`, runtimeoptions.v1.Options on start's
//    stdin) choose micrun's config file: each config here has its own state dir, and the
//    container's state lands in the chosen one (and `delete` finds it there);
//  - that config's `shim.bootstrap` chooses start's output: the bare address on every version,
//    JSON version 2 on 1.7+, version 3 (Task API v3) on 2.x — and 1.7 refusing version 3,
//    which is why the default is the bare address;
//  - a spec with an idmapped mount gets a clear refusal naming idmap (from micrun's Create on
//    1.6/1.7; on 2.x from containerd reading micrun's `-info` Features), and nothing is left.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { BootstrapForm } from '../../src/config';
import { taskStatus, type Containerd } from './harness/containerd';
import { containerdBuilds, type ContainerdBuild } from './harness/containerd-builds';
import { micadInstances, shimDaemons, stopShimDaemons } from './harness/leftovers';
import type { MicadSim } from './harness/micad-sim';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { waitFor } from './harness/processes';

const RUNTIME = 'io.containerd.mica.v2';
const ECHO = 'docker.io/micrun-test/echo:options';
const FORMS: readonly BootstrapForm[] = ['address', 'json-v2', 'json-v3'];

/** The bootstrap forms a containerd line accepts (core/runtime/v2 parseStartResponse). */
function accepts(build: ContainerdBuild, form: BootstrapForm): boolean {
  if (form === 'address') return true;
  if (build.major < 2 && build.minor < 7) return false; // 1.6 reads the bare address only
  return form === 'json-v2' || build.major >= 2; // 1.7 rejects version 3
}

const work = mkdtempSync(path.join(tmpdir(), 'micrun-options-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

for (const build of containerdBuilds()) {
  describe(`runtime options, bootstrap forms and idmap (containerd ${build.version})`, () => {
    const dir = path.join(work, build.version);
    let stack: MicrunStack | undefined;
    let ctd: Containerd;
    let sim: MicadSim;
    /** One micrun config per bootstrap form, each with its own state dir. */
    const configOf = (form: BootstrapForm) => path.join(dir, `${form}.toml`);
    const stateDirOf = (form: BootstrapForm) => path.join(dir, `state-${form}`);
    const records = (stateDir: string) => (existsSync(path.join(stateDir, 'containers')) ? readdirSync(path.join(stateDir, 'containers')) : []);

    beforeAll(async () => {
      mkdirSync(dir, { recursive: true });
      for (const form of FORMS) {
        writeFileSync(configOf(form), `[runtime]\nstate_dir = "${stateDirOf(form)}"\nlog_level = "debug"\n[shim]\nbootstrap = "${form}"\n`);
      }
      stack = await startMicrunStack({
        stateDir: path.join(dir, 'state-env'),
        // No containerd-wide MICRUN_STATE_DIR: it would win over every config file's state_dir.
        // when_empty exit: each test checks that the daemon of the config it chose is gone after.
        containerd: { build, env: { MICRUN_STATE_DIR: '', MICRUN_SHIM_WHEN_EMPTY: 'exit' } },
        images: [['echo', ECHO]],
      });
      ({ ctd, sim } = stack);
    }, 120_000);
    afterAll(async () => {
      await stack?.destroy();
    }, 60_000);

    async function expectNothingLeft(id: string): Promise<void> {
      await waitFor(() => shimDaemons(ctd.shimSocketDir).length === 0, { what: `no shim daemon after ${id}`, timeoutMs: 15_000 });
      expect(micadInstances(sim.socketDir)).toEqual([]);
      expect((await ctd.ctr(['container', 'ls', '-q'])).stdout.split('\n')).not.toContain(id);
      for (const form of FORMS) expect(records(stateDirOf(form))).toEqual([]);
    }

    for (const form of FORMS.filter((f) => accepts(build, f))) {
      test(`bootstrap "${form}" chosen through --runtime-config-path: runs, keeps its state in that config's state dir, cleans up`, async () => {
        const id = `opt-${form}`;
        const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--runtime-config-path', configOf(form), ECHO, id]);
        expect(r.code, r.stderr).toBe(0);
        expect(await taskStatus(ctd, id)).toBe('RUNNING');
        // The daemon used the chosen config: its state dir, none of the others'.
        for (const other of FORMS) expect(records(stateDirOf(other))).toEqual(other === form ? [id] : []);
        expect((await ctd.ctr(['task', 'kill', '-s', 'SIGKILL', id])).code).toBe(0);
        await waitFor(async () => (await taskStatus(ctd, id)) === 'STOPPED', { what: `${id} stopped`, timeoutMs: 15_000 });
        expect((await ctd.ctr(['task', 'rm', id])).code).toBe(0);
        expect((await ctd.ctr(['container', 'rm', id])).code).toBe(0);
        await expectNothingLeft(id);
      }, 90_000);
    }

    for (const form of FORMS.filter((f) => !accepts(build, f))) {
      test(`bootstrap "${form}" is refused by this containerd: ctr run fails and no task exists`, async () => {
        const id = `refused-${form}`;
        const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--runtime-config-path', configOf(form), ECHO, id]);
        expect(r.code).not.toBe(0);
        // 1.7: "unsupported shim version (3): not implemented"; 1.6 dials the JSON as if it were
        // a path (an abstract one: containerd prefixes a NUL to what lacks unix://).
        expect(r.stderr).toMatch(build.minor >= 7 ? /unsupported shim version \(3\)/ : /dial unix[\s\0]+\{"version":/);
        expect(await taskStatus(ctd, id)).toBeUndefined();
        expect((await ctd.ctr(['container', 'rm', id])).code).toBe(0);
        // containerd never connects, so nobody tells the daemon `start` spawned to go: a refused
        // form leaves it idle (documented in docs/containerd.md). Stopped here by PID.
        await stopShimDaemons(ctd.shimSocketDir);
      }, 90_000);
    }

    test('a spec with an idmapped mount is refused with an error naming idmap; nothing is left', async () => {
      const id = 'idmap';
      const src = path.join(dir, 'volume');
      mkdirSync(src, { recursive: true });
      const r = await ctd.ctr(['run', '-d', '--runtime', RUNTIME, '--mount', `type=bind,src=${src},dst=/data,options=rbind:idmap`, ECHO, id]);
      expect(r.code).not.toBe(0);
      // 2.x runs `-info` first and, reading our Features, passes the spec on; every version then
      // gets micrun's own refusal from Create (InvalidArgument), never "unmarshal runtime features".
      expect(r.stderr).toContain('micrun does not support idmap mounts');
      expect(r.stderr).toContain('mounts[');
      expect(r.stderr).toContain('(/data)');
      expect(r.stderr).not.toContain('unmarshal runtime features');
      expect(await taskStatus(ctd, id)).toBeUndefined();
      expect((await ctd.ctr(['container', 'rm', id])).code).toBe(0);
      await expectNothingLeft(id);
    }, 90_000);
  });
}
