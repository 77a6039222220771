// `micrun doctor`: what a person runs first on a board. Runs every check in doctor-checks.ts and
// prints one line per check (ok / FAIL / warn / info), each failure with a one-line fix;
// `--json` prints the same as one JSON document for scripts. Exit status 1 when a check failed.
import { runChecks, type CheckResult, type DoctorOptions } from './doctor-checks';
import type { CommandIO } from './image-build';
import { DEFAULT_CONTAINERD_CONFIG } from './containerd-config';
import { parseFlags, UsageError } from './parse-flags';

export const DOCTOR_USAGE = `usage: micrun doctor [--json] [--containerd-config FILE] [--containerd FILE]

Checks that this node can run micrun containers: micad answers at the configured socket dir,
the libmica addon loads, the micrun config is valid, the state dir is writable, containerd's
config registers the runtime (runc still present), the shim resolves on containerd's PATH,
containerd's version and CRI sandboxer, and micad-sim + qemu when micad is the simulator.
Exit status 1 when a check failed.

  --json                    print the results as JSON
  --containerd-config FILE  containerd's config (default ${DEFAULT_CONTAINERD_CONFIG})
  --containerd FILE         containerd binary (default: containerd on PATH)
`;

export async function runDoctor(argv: readonly string[], io: CommandIO & { stdout: (text: string) => void }): Promise<number> {
  const flags = parseFlags(argv, [{ name: 'json', boolean: true }, { name: 'containerd-config' }, { name: 'containerd' }]);
  if (flags.positionals.length > 0) throw new UsageError(`doctor takes no arguments (got "${flags.positionals[0]}")`);
  const opts: DoctorOptions = {
    env: io.env,
    containerdConfig: flags.values.get('containerd-config')?.[0] ?? DEFAULT_CONTAINERD_CONFIG,
    containerd: flags.values.get('containerd')?.[0],
  };
  const results = await runChecks(opts);
  const failed = results.some((r) => r.status === 'fail');
  if (flags.booleans.has('json')) io.stdout(`${JSON.stringify({ ok: !failed, checks: results }, null, 2)}\n`);
  else io.stdout(results.map(formatResult).join(''));
  return failed ? 1 : 0;
}

const LABEL: Record<CheckResult['status'], string> = { ok: 'ok  ', fail: 'FAIL', warn: 'warn', info: 'info' };

function formatResult(r: CheckResult): string {
  const line = `${LABEL[r.status]} ${r.name.padEnd(18)} ${r.detail}\n`;
  return r.hint ? `${line}     ${''.padEnd(18)} fix: ${r.hint}\n` : line;
}
