// micad-sim entry point: parse the command line, run the daemon in the foreground until
// SIGTERM/SIGINT, then stop every QEMU and remove every socket before exiting 0.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseCliArgs, USAGE } from './cli-args';
import { MicadSim } from './micad-sim';

/** Printed on stdout once every socket is listening (test harnesses wait for it). */
export const READY_LINE_PREFIX = 'micad-sim: ready';

function log(line: string): void {
  process.stderr.write(`micad-sim: ${line}\n`);
}

function main(): void {
  let opts;
  try {
    opts = parseCliArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`micad-sim: ${(err as Error).message}\n`);
    process.exit(2);
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  const ownStateDir = opts.stateDir === undefined;
  const stateDir = opts.stateDir ?? mkdtempSync(join(tmpdir(), 'micad-sim-'));
  const sim = new MicadSim({
    socketDir: opts.socketDir,
    stateDir,
    qemuPath: opts.qemuPath,
    machine: opts.machine,
    log,
  });

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: stopping ${sim.instanceCount} instance(s)`);
    void sim.shutdown().finally(() => {
      if (ownStateDir) rmSync(stateDir, { recursive: true, force: true });
      log('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  sim.start().then(
    () => process.stdout.write(`${READY_LINE_PREFIX} socket-dir=${opts.socketDir} pid=${process.pid}\n`),
    (err: Error) => {
      log(`cannot start: ${err.message}`);
      process.exit(1);
    },
  );
}

main();
