// file:// and binary:// outputs, with a real logging binary (test/fixtures/logger/logger.sh).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Code, CodedError } from '../../src/errors';
import { defaultLoggerPolicy, TaskIO, type LoggerPolicy } from '../../src/shim/io';
import { FakeRtos, silentLogger, sleep, tempDir, waitFor } from './harness';

const LOGGER = path.resolve(__dirname, '../fixtures/logger/logger.sh');
const ctx = { containerId: 'c1', namespace: 'k8s.io', logger: silentLogger };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const readLines = (p: string) => (fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean) : []);

describe('file:// and binary:// outputs', () => {
  let dir: string;
  let rtos: FakeRtos;
  const cleanup: (() => unknown)[] = [];

  beforeEach(() => {
    dir = tempDir();
    rtos = new FakeRtos();
  });
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
    rtos.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const openIO = async (stdout: string, stderr = stdout, logger?: Partial<LoggerPolicy>) => {
    const io = await TaskIO.open({ stdin: '', stdout, stderr, terminal: false }, ctx, {
      logger: { ...defaultLoggerPolicy, ...logger },
    });
    cleanup.push(async () => {
      await io.close();
      for (const pid of io.loggerPids) process.kill(pid, 'SIGKILL');
      await io.whenLoggersStopped();
    });
    return io;
  };
  const binaryUri = (prefix: string, mode = 'normal') => `binary://${LOGGER}?out=${encodeURIComponent(prefix)}&mode=${mode}`;

  it('file:// appends console output to the file, creating parent dirs 0755 and the file 0644', async () => {
    const existing = path.join(dir, 'old.log');
    fs.writeFileSync(existing, 'previous run\n');
    const io = await openIO(`file://${existing}`);
    await io.attach(rtos.path);
    await rtos.write('second run\n');
    await io.close();
    expect(fs.readFileSync(existing, 'utf8')).toBe('previous run\nsecond run\n');

    const fresh = path.join(dir, 'a/b/c1.log');
    const umask = process.umask();
    const io2 = await openIO(`file://${fresh}`);
    await io2.attach(rtos.path);
    await rtos.write('hello\n');
    await io2.close();
    expect(fs.readFileSync(fresh, 'utf8')).toBe('hello\n');
    expect(fs.statSync(fresh).mode & 0o777).toBe(0o644 & ~umask);
    expect(fs.statSync(path.join(dir, 'a/b')).mode & 0o777).toBe(0o755 & ~umask);
  });

  it('binary:// starts the logger with argv path,k,v…, env ONLY CONTAINER_ID/CONTAINER_NAMESPACE, stdout on fd 3', async () => {
    const prefix = path.join(dir, 'log');
    const io = await openIO(binaryUri(prefix));
    expect(io.loggerPids).toHaveLength(1); // stdout == stderr: one logger, like runc
    await io.attach(rtos.path);
    await rtos.write('*** Booting Zephyr OS ***\r\n');
    await waitFor(() => io.stats.consoleBytes === 27, 'console read');
    await io.close();
    await io.whenLoggersStopped();
    expect(fs.readFileSync(`${prefix}.stdout`, 'utf8')).toBe('*** Booting Zephyr OS ***\r\n');
    expect(fs.readFileSync(`${prefix}.stderr`, 'utf8')).toBe('');
    const env = fs.readFileSync(`${prefix}.environ`, 'utf8').split('\0').filter(Boolean).sort();
    expect(env).toEqual(['CONTAINER_ID=c1', 'CONTAINER_NAMESPACE=k8s.io']);
    expect(readLines(`${prefix}.argv`)).toEqual([LOGGER, 'out', prefix, 'mode', 'normal']);
  });

  it('binary:// ready timeout fails open() with DeadlineExceeded and leaves no process behind', async () => {
    const prefix = path.join(dir, 'log');
    expect(defaultLoggerPolicy.readyTimeoutMs).toBe(10_000);
    const err = await TaskIO.open({ stdin: '', stdout: binaryUri(prefix, 'noready'), stderr: '', terminal: false }, ctx, {
      logger: { ...defaultLoggerPolicy, readyTimeoutMs: 400 },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CodedError);
    expect((err as CodedError).code).toBe(Code.DeadlineExceeded);
    expect((err as CodedError).message).toMatch(/did not signal ready on fd 5 within 400 ms/);
    const [pid] = readLines(`${prefix}.starts`).map(Number);
    expect(pid).toBeGreaterThan(0);
    await waitFor(() => !alive(pid as number), 'logger killed');
  });

  it('binary:// naming a missing binary is InvalidArgument naming it', async () => {
    const err = await TaskIO.open(
      { stdin: '', stdout: `binary://${dir}/no-such-logger?x=1`, stderr: '', terminal: false },
      ctx,
    ).catch((e: unknown) => e);
    expect((err as CodedError).code).toBe(Code.InvalidArgument);
    expect((err as CodedError).message).toContain(`${dir}/no-such-logger`);
  });

  it('an unknown scheme fails open() with "unknown STDIO scheme"', async () => {
    const err = await TaskIO.open({ stdin: '', stdout: 'syslog:///dev/log', stderr: '', terminal: false }, ctx).catch(
      (e: unknown) => e,
    );
    expect((err as CodedError).code).toBe(Code.InvalidArgument);
    expect((err as CodedError).message).toMatch(/unknown STDIO scheme "syslog"/);
  });

  it('a logger that dies while the task runs is restarted and no console output is lost', async () => {
    const prefix = path.join(dir, 'log');
    const io = await openIO(binaryUri(prefix, 'die-first'), undefined, { restartBackoffMs: 100 });
    await io.attach(rtos.path);
    await rtos.write('during restart\n');
    await waitFor(() => readLines(`${prefix}.starts`).length === 2, 'second logger start');
    await waitFor(() => io.loggerPids.length === 1, 'restarted logger up');
    await rtos.write('after restart\n');
    await waitFor(() => io.stats.consoleBytes === 29, 'console read');
    await io.close();
    await io.whenLoggersStopped();
    expect(fs.readFileSync(`${prefix}.stdout`, 'utf8')).toBe('during restart\nafter restart\n');
  });

  it('once restarts are used up the console keeps flowing (stdin still works) and the loss is logged', async () => {
    const prefix = path.join(dir, 'log');
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(line) });
    const stdin = path.join(dir, 'stdin');
    execFileSync('mkfifo', [stdin]);
    const io = await TaskIO.open({ stdin, stdout: binaryUri(prefix, 'die-first'), stderr: '', terminal: false }, { ...ctx, logger }, {
      logger: { ...defaultLoggerPolicy, maxRestarts: 0 },
    });
    cleanup.push(() => io.close());
    const w = fs.openSync(stdin, fs.constants.O_WRONLY | fs.constants.O_NONBLOCK);
    cleanup.push(() => fs.closeSync(w));
    await io.attach(rtos.path);
    await waitFor(() => lines.some((l) => l.includes('restarts used up')), 'give-up logged');
    await rtos.write('nobody logs this\n');
    fs.writeSync(w, 'typed\n');
    await waitFor(() => rtos.received().toString() === 'typed\n', 'stdin still reaches the console');
    await waitFor(() => io.stats.consoleBytes === 17, 'console still read');
    await io.close();
    await io.whenLoggersStopped();
    expect(lines.some((l) => l.includes('"droppedBytes":17'))).toBe(true);
  });

  it('close() does not wait for a logger that ignores SIGTERM; it is SIGKILLed after the timeout', async () => {
    const prefix = path.join(dir, 'log');
    const io = await openIO(binaryUri(prefix, 'hang'), undefined, { stop: { graceMs: 100, killAfterMs: 400 } });
    const [pid] = io.loggerPids;
    await io.attach(rtos.path);
    await rtos.write('bye\n');
    const started = Date.now();
    await io.close();
    expect(alive(pid as number)).toBe(true); // close() returned while the logger still ran
    await io.whenLoggersStopped();
    const stoppedAfter = Date.now() - started;
    expect(stoppedAfter).toBeGreaterThanOrEqual(450);
    expect(alive(pid as number)).toBe(false);
    expect(fs.readFileSync(`${prefix}.stdout`, 'utf8')).toBe('bye\n');
  });

  it('with the default 12 s kill timeout close() still returns promptly', async () => {
    const prefix = path.join(dir, 'log');
    const io = await openIO(binaryUri(prefix, 'hang'));
    await io.attach(rtos.path);
    const [pid] = io.loggerPids;
    await io.close();
    // close() returned while the logger is still in its SIGTERM grace (cleanup SIGKILLs it): it
    // did not wait the 12 s for the kill.
    expect(io.loggerPids).toEqual([pid]);
    expect(alive(pid as number)).toBe(true);
  });
});
