import { afterAll, beforeAll, expect, test } from 'vitest';
import { startContainerd, type Containerd } from './harness/containerd';
import { isAlive } from './harness/processes';

let ctd: Containerd;
beforeAll(async () => {
  ctd = await startContainerd();
});
afterAll(async () => {
  await ctd?.destroy();
});

test('a private containerd serves ctr on its own socket and stops by PID', async () => {
  const version = await ctd.ctr(['version']);
  expect(version.code).toBe(0);
  expect(version.stdout).toMatch(/Server:\s*\n\s*Version:\s+1\.6/);
  expect(isAlive(ctd.pid)).toBe(true);
  await ctd.stop();
  expect(isAlive(ctd.pid)).toBe(false);
});
