// One micad-sim for a whole test file, driven through the real MicaClient (libmica addon):
// started before the file's tests, stopped by PID after them; every console a test opened
// through `console()` is closed after that test. Call at the top level of a test file.
import { afterAll, afterEach, beforeAll } from 'vitest';
import { createMicaClient } from '../../../src/mica/client';
import type { MicaClient } from '../../../src/mica/types';
import { openConsole, startMicadSim, type Console, type MicadSim } from './micad-sim';

export interface MicadSimClient {
  /** A client of the running micad-sim (readable from beforeAll on). */
  readonly mica: MicaClient;
  readonly socketDir: string;
  readonly stateDir: string;
  readonly pid: number;
  /** Opens an instance's console pty; closed after the current test. */
  console(ttyPath: string): Console;
}

export function useMicadSimClient(): MicadSimClient {
  let running: { sim: MicadSim; mica: MicaClient } | undefined;
  const consoles: Console[] = [];
  beforeAll(async () => {
    const sim = await startMicadSim();
    running = { sim, mica: createMicaClient({ socketDir: sim.socketDir }) };
  });
  afterAll(async () => {
    await running?.sim.stop();
  });
  afterEach(() => {
    for (const c of consoles.splice(0)) c.close();
  });
  const started = () => {
    if (!running) throw new Error('micad-sim is not running yet: use the client inside tests or hooks');
    return running;
  };
  return {
    get mica() {
      return started().mica;
    },
    get socketDir() {
      return started().sim.socketDir;
    },
    get stateDir() {
      return started().sim.stateDir;
    },
    get pid() {
      return started().sim.pid;
    },
    console(ttyPath) {
      const c = openConsole(ttyPath);
      consoles.push(c);
      return c;
    },
  };
}
