// Console input for firmware that neither arms a timer nor takes an interrupt (issue 11, item
// 10): under QEMU 7.2 with `-nic none` nothing woke the emulator's main loop after the guest
// enabled its UART receiver, so input sat unread in the serial socket (1 of 5 runs got it).
// micad-sim now wakes QEMU itself; these run several fresh instances in a row so that a pass
// is not luck. Driven through the built micad-sim and the real MicaClient; the `ctr run` path
// is in console-input-ctr.test.ts.
import { describe, expect, it } from 'vitest';
import { firmwarePath, type Console } from './harness/micad-sim';
import { useMicadSimClient } from './harness/micad-sim-client';

const RUNS = 5;

const sim = useMicadSimClient();

/** Creates and starts `name` from fixture `firmware`, opens its console, waits for `banner`. */
async function bootWithConsole(name: string, firmware: string, banner: string): Promise<Console> {
  await sim.mica.create({ name, firmwarePath: firmwarePath(firmware), cpus: '1' });
  await sim.mica.start(name);
  const tty = sim.console((await sim.mica.status(name)).console!);
  await tty.waitFor(`${banner}\r\n`);
  return tty;
}

describe('console input reaches a firmware with no timer and no interrupt', () => {
  it(`a plain RX-polling loop answers every line, ${RUNS} fresh instances in a row`, async () => {
    for (let run = 1; run <= RUNS; run++) {
      const name = `poll${run}`;
      const tty = await bootWithConsole(name, 'poll', 'micrun poll firmware ready');
      // Typed only after the firmware is waiting: QEMU's main loop has long gone to sleep.
      await new Promise((resolve) => setTimeout(resolve, 300));
      for (const line of ['first', `run ${run} second`, 'third line, a bit longer than the others']) {
        tty.write(`${line}\r`);
        await tty.waitFor(`poll: ${line}\r\n`);
      }
      expect(tty.text()).toBe(
        'micrun poll firmware ready\r\npoll: first\r\n' +
          `poll: run ${run} second\r\npoll: third line, a bit longer than the others\r\n`,
      );
      await sim.mica.remove(name);
    }
  });

  it('input typed right after start, while the firmware boots, arrives too', async () => {
    await sim.mica.create({ name: 'early', firmwarePath: firmwarePath('poll'), cpus: '1' });
    await sim.mica.start('early');
    const tty = sim.console((await sim.mica.status('early')).console!);
    tty.write('typed early\r');
    await tty.waitFor('poll: typed early\r\n');
    await sim.mica.remove('early');
  });

  it('the WFI/interrupt echo firmware (no SysTick any more) answers too', async () => {
    for (let run = 1; run <= 3; run++) {
      const tty = await bootWithConsole(`echo${run}`, 'echo', 'micrun echo firmware ready');
      await new Promise((resolve) => setTimeout(resolve, 300));
      tty.write(`hello ${run}\r`);
      await tty.waitFor(`echo: hello ${run}\r\n`);
      await sim.mica.remove(`echo${run}`);
    }
  });
});
