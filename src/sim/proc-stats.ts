// CPU time and resident memory of a process from /proc (Linux), for the `info` extension.
// Async reads only: /proc is fast, but the daemon never does blocking IO on its event loop.

import { readFile } from 'node:fs/promises';

/** USER_HZ: the unit of utime/stime in /proc/<pid>/stat; 100 on every Linux ABI Node runs on. */
const CLOCK_TICKS_PER_SECOND = 100;

export interface ProcStats {
  cpuTimeNs: number;
  memoryBytes: number;
}

/** Undefined when the process is gone. */
export async function readProcStats(pid: number): Promise<ProcStats | undefined> {
  try {
    const [stat, status] = await Promise.all([
      readFile(`/proc/${pid}/stat`, 'utf8'),
      readFile(`/proc/${pid}/status`, 'utf8'),
    ]);
    return { cpuTimeNs: parseCpuTimeNs(stat), memoryBytes: parseRssBytes(status) };
  } catch {
    return undefined;
  }
}

/** utime + stime (fields 14 and 15) in ns. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'. */
export function parseCpuTimeNs(stat: string): number {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14 → index 11, stime → index 12.
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Math.round((ticks * 1e9) / CLOCK_TICKS_PER_SECOND);
}

/** VmRSS from /proc/<pid>/status, in bytes (0 if absent, e.g. a zombie). */
export function parseRssBytes(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}
