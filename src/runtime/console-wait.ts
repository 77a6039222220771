// Start waits for the RTOS to announce its console in micad's status (`rpmsg-tty(<path>)`): the
// console appears a moment after `start`, and the shim attaches stdio to it. Bounded: an RTOS that
// never announces one runs without IO rather than failing Start.
import type { MicaClient } from '../mica/types';

const POLL_MS = 50;

/** The console path, or undefined when the instance ended or `timeoutMs` passed without one. */
export async function waitForConsole(
  mica: Pick<MicaClient, 'status'>,
  instance: string,
  timeoutMs: number,
  warn: (obj: object, msg: string) => void,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const status = await mica.status(instance);
      if (status.console) return status.console;
      if (status.state !== 'Running') return undefined; // ended before it announced a console
    } catch (err) {
      warn({ err: String(err) }, 'start: status query failed');
    }
    if (Date.now() > deadline) {
      warn({}, 'start: the RTOS announced no console; running without IO');
      return undefined;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
