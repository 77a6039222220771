// `micrun doctor`: checks what micrun needs on this host and prints one actionable line per
// check. Exit status 1 when a required piece is missing. qemu-system-arm only matters for
// micad-sim (a MICA board runs the real micad), so its absence is reported but not fatal.
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../config';
import type { CommandIO } from './image-build';

interface Check {
  ok: boolean;
  required: boolean;
  line: string;
}

export function runDoctor(io: CommandIO): number {
  const checks: Check[] = [];
  let socketDir = '/run/mica';
  try {
    const config = loadConfig({ env: io.env });
    socketDir = config.mica.socket_dir;
    checks.push({ ok: true, required: true, line: `config: ${config.source ?? 'no config file, defaults'} (socket_dir ${socketDir})` });
  } catch (err) {
    checks.push({ ok: false, required: true, line: `config: ${(err as Error).message}` });
  }

  const createSocket = path.join(socketDir, 'mica-create.socket');
  const listening = isSocket(createSocket);
  checks.push({
    ok: listening,
    required: true,
    line: listening
      ? `micad: listening at ${createSocket}`
      : `micad: no ${createSocket}: start micad (systemctl start micad) or micad-sim --socket-dir ${socketDir}; ` +
        'set MICRUN_MICA_SOCKET_DIR or [mica] socket_dir if it lives elsewhere',
  });

  const containerd = which('containerd', io.env);
  checks.push({ ok: !!containerd, required: true, line: containerd ? `containerd: ${containerd}` : 'containerd: not on PATH; install containerd (>= 1.6)' });
  const shim = which('containerd-shim-mica-v2', io.env);
  checks.push({
    ok: !!shim,
    required: true,
    line: shim ? `shim: ${shim}` : 'shim: containerd-shim-mica-v2 not on PATH; containerd finds runtime io.containerd.mica.v2 through PATH',
  });
  const qemu = which('qemu-system-arm', io.env);
  checks.push({
    ok: !!qemu,
    required: false,
    line: qemu ? `qemu: ${qemu} (for micad-sim)` : 'qemu: qemu-system-arm not on PATH; needed only by micad-sim (apt-get install qemu-system-arm)',
  });

  for (const c of checks) io.stderr(`${c.ok ? 'ok  ' : c.required ? 'FAIL' : 'warn'} ${c.line}`);
  return checks.some((c) => !c.ok && c.required) ? 1 : 0;
}

function isSocket(p: string): boolean {
  try {
    return statSync(p).isSocket();
  } catch {
    return false;
  }
}

function which(name: string, env: NodeJS.ProcessEnv): string | undefined {
  for (const dir of (env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      if (statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
