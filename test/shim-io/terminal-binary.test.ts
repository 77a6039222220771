// nerdctl -dt: containerd's cio.TerminalBinaryIO asks for a terminal task whose stdout AND stderr
// are the same binary:// URI, with no stdin. ctr cannot send that request (ctr run -d -t keeps the
// console for itself), so it is pinned here on TaskIO with the real test logging binary: one
// logger is started (not one per stream), the raw console bytes — CR LF and Ctrl-C included —
// reach its fd 3, and fd 4 stays empty.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, beforeEach, expect, it } from 'vitest';
import { TaskIO } from '../../src/shim/io';
import { FakeRtos, silentLogger, tempDir, waitFor } from './harness';

const LOGGER = path.resolve(__dirname, '../fixtures/logger/logger.sh');
let dir: string;
let rtos: FakeRtos;
beforeEach(() => {
  dir = tempDir();
  rtos = new FakeRtos();
});
afterEach(() => {
  rtos.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('terminal + binary:// on stdout and stderr: one logger gets the raw console on fd 3, nothing on fd 4', async () => {
  const prefix = path.join(dir, 'log');
  const uri = `binary://${LOGGER}?_NERDCTL_INTERNAL_LOGGING=${encodeURIComponent(dir)}&out=${encodeURIComponent(prefix)}`;
  const io = await TaskIO.open({ stdin: '', stdout: uri, stderr: uri, terminal: true }, { containerId: 'nerd-dt', namespace: 'default', logger: silentLogger });
  try {
    expect(io.loggerPids).toHaveLength(1);
    await io.attach(rtos.path);
    await rtos.write('uart:~$ \r\n\x03');
    await waitFor(() => fs.existsSync(`${prefix}.stdout`) && fs.readFileSync(`${prefix}.stdout`).length === 11, 'console bytes at the logger');
  } finally {
    await io.close();
    await io.whenLoggersStopped();
  }
  expect(fs.readFileSync(`${prefix}.stdout`, 'latin1')).toBe('uart:~$ \r\n\x03');
  expect(fs.readFileSync(`${prefix}.stderr`, 'utf8')).toBe('');
  expect(fs.readFileSync(`${prefix}.argv`, 'utf8').trim().split('\n')).toEqual([LOGGER, '_NERDCTL_INTERNAL_LOGGING', dir, 'out', prefix]);
});
