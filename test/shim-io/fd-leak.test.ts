// Every fd TaskIO opens (fifos, console tty, logger socketpairs, log files) is closed by
// close(), also when open() fails half way. Counted in /proc/self/fd.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TaskIO } from '../../src/shim/io';
import { FakeRtos, FifoReader, makeFifo, openFdCount, openStdinWriter, silentLogger, tempDir as makeTempDir, waitFor } from './harness';

// Removed after each test, also a failed one (an fd-count assertion on a busy machine left
// micrun-io-* dirs in /tmp when the removal was the test's last line).
const dirs: string[] = [];
const tempDir = () => {
  const dir = makeTempDir();
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) fs.rmSync(dir, { recursive: true, force: true });
});

const LOGGER = path.resolve(__dirname, '../fixtures/logger/logger.sh');
const ctx = { containerId: 'leak', namespace: 'default', logger: silentLogger };

describe('TaskIO fd hygiene', () => {
  it('open/attach/traffic/close with stdin, stdout, stderr fifos leaves no fd open (5 rounds)', async () => {
    const dir = tempDir();
    const rtos = new FakeRtos();
    const [stdin, stdout, stderr] = ['stdin', 'stdout', 'stderr'].map((n) => makeFifo(dir, n)) as [string, string, string];
    const before = openFdCount();
    for (let round = 0; round < 5; round++) {
      const io = await TaskIO.open({ stdin, stdout, stderr, terminal: false }, ctx);
      const out = new FifoReader(stdout);
      const w = openStdinWriter(stdin);
      await io.attach(rtos.path);
      fs.writeSync(w, `in ${round}\n`);
      await rtos.write(`out ${round}\n`);
      await waitFor(() => out.text() === `out ${round}\n`, 'output');
      expect(openFdCount()).toBeGreaterThan(before + 4); // fifos, console, reader, writer are open
      await io.close();
      await out.ended;
      await out.close();
      fs.closeSync(w);
    }
    expect(openFdCount()).toBe(before);
    rtos.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('binary:// and file:// leave no fd open once the logger stopped', async () => {
    const dir = tempDir();
    const rtos = new FakeRtos();
    const before = openFdCount();
    const io = await TaskIO.open(
      { stdin: '', stdout: `binary://${LOGGER}?out=${dir}/log`, stderr: `file://${dir}/err.log`, terminal: false },
      ctx,
    );
    await io.attach(rtos.path);
    await rtos.write('x\n');
    await io.close();
    await io.whenLoggersStopped();
    expect(openFdCount()).toBe(before);
    rtos.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('open() failing on stderr closes the stdout fifo it already opened', async () => {
    const dir = tempDir();
    const stdout = makeFifo(dir, 'stdout');
    const before = openFdCount();
    await expect(
      TaskIO.open({ stdin: '', stdout, stderr: path.join(dir, 'missing-stderr'), terminal: false }, ctx),
    ).rejects.toThrow(/stderr fifo ".*missing-stderr"/);
    expect(openFdCount()).toBe(before);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
