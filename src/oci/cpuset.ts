// cpuset strings as in cgroups and the OCI spec ("0-3", "0,2,4-5"): strict parsing and a
// canonical form. micad forwards the string to `xl vcpu-pin`, and its `set` command is limited
// to 31 bytes, so we send the shortest equivalent form.
import { invalidArgument } from '../errors';

/** Highest CPU number accepted; far above any MICA board, low enough to catch garbage. */
export const MAX_CPU_ID = 4095;

/** Parses a cpuset into sorted, unique CPU numbers. `field` names the source in errors. */
export function parseCpuset(text: string, field: string): number[] {
  const fail = (why: string) =>
    invalidArgument(`${field}=${JSON.stringify(text)} is not a valid cpuset (${why}); expected e.g. "0-3" or "0,2,4-5"`);
  const trimmed = text.trim();
  if (trimmed === '') throw fail('empty');
  const cpus = new Set<number>();
  for (const part of trimmed.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) throw fail(`"${part}" is not a number or a range`);
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) throw fail(`range ${part} runs backwards`);
    if (hi > MAX_CPU_ID) throw fail(`CPU ${hi} is above ${MAX_CPU_ID}`);
    for (let c = lo; c <= hi; c++) cpus.add(c);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** Canonical cpuset text for sorted unique CPU numbers: [0,1,2,3,5] → "0-3,5". */
export function formatCpuset(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < cpus.length; ) {
    let j = i;
    while (j + 1 < cpus.length && cpus[j + 1] === cpus[j]! + 1) j++;
    parts.push(i === j ? `${cpus[i]}` : `${cpus[i]}-${cpus[j]}`);
    i = j + 1;
  }
  return parts.join(',');
}
