import { execFileSync } from 'node:child_process';
import { closeSync, constants, openSync, readdirSync, readSync, writeSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { getWindowSize, openPty, setRawMode, setWindowSize, type Pty } from '../../src/mica/pty';

const openFds = () => readdirSync('/proc/self/fd').length;

/** Reads a non-blocking fd until `want` bytes arrived or the deadline passes. */
async function readBytes(fd: number, want: number, timeoutMs = 2000): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  const deadline = Date.now() + timeoutMs;
  while (total < want && Date.now() < deadline) {
    const buf = Buffer.alloc(4096);
    try {
      const n = readSync(fd, buf, 0, buf.length, null);
      chunks.push(buf.subarray(0, n));
      total += n;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
  return Buffer.concat(chunks);
}

describe('openPty', () => {
  const toClose: number[] = [];
  afterEach(() => {
    for (const fd of toClose.splice(0)) closeSync(fd);
  });
  const open = (): Pty => {
    const pty = openPty();
    toClose.push(pty.master, pty.slave);
    return pty;
  };
  const openSlavePath = (path: string) => {
    const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    toClose.push(fd);
    return fd;
  };

  it('returns a master, a slave and the slave path under /dev/pts', () => {
    const pty = open();
    expect(pty.master).toBeGreaterThan(2);
    expect(pty.slave).toBeGreaterThan(2);
    expect(pty.path).toMatch(/^\/dev\/pts\/\d+$/);
  });

  it('carries bytes written to the master to a reader of the slave path, unchanged', async () => {
    const pty = open();
    const reader = openSlavePath(pty.path);
    const data = Buffer.from('hello\r\nline two\n\x03\x7f', 'latin1');
    writeSync(pty.master, data);
    // raw mode: no ICRNL (\r stays), no ISIG (^C is a byte), no ICANON (no line wait)
    expect(await readBytes(reader, data.length)).toEqual(data);
  });

  it('carries bytes written to the slave path to the master without \\n -> \\r\\n', async () => {
    const pty = open();
    const writer = openSlavePath(pty.path);
    writeSync(writer, 'out\nput\n');
    expect((await readBytes(pty.master, 8)).toString()).toBe('out\nput\n');
  });

  it('does not echo input back to the master (ECHO off)', async () => {
    const pty = open();
    const reader = openSlavePath(pty.path);
    writeSync(pty.master, 'abc');
    expect((await readBytes(reader, 3)).toString()).toBe('abc');
    expect((await readBytes(pty.master, 1, 100)).length).toBe(0);
  });

  it('sets the window size visible through TIOCGWINSZ and stty on the slave', () => {
    const pty = open();
    setWindowSize(pty.master, 132, 43);
    expect(getWindowSize(pty.slave)).toEqual({ cols: 132, rows: 43 });
    const stty = execFileSync('stty', ['-F', pty.path, 'size'], { encoding: 'utf8' });
    expect(stty.trim()).toBe('43 132');
  });

  it('setRawMode turns off canonical mode and echo on a fresh tty fd', () => {
    const pty = open();
    const fd = openSlavePath(pty.path);
    execFileSync('stty', ['-F', pty.path, 'sane']);
    expect(execFileSync('stty', ['-F', pty.path, '-a'], { encoding: 'utf8' })).toMatch(/ icanon/);
    setRawMode(fd);
    const flags = execFileSync('stty', ['-F', pty.path, '-a'], { encoding: 'utf8' });
    expect(flags).toMatch(/-icanon/);
    expect(flags).toMatch(/-echo /);
    expect(flags).toMatch(/-icrnl/);
    expect(flags).toMatch(/-opost/);
    expect(flags).toMatch(/-isig/);
  });

  it('rejects an fd that is not a tty and leaks no descriptor', () => {
    const before = openFds();
    const pty = openPty();
    closeSync(pty.master);
    closeSync(pty.slave);
    expect(openFds()).toBe(before);
    const fd = openSync('/dev/null', 'r');
    toClose.push(fd);
    expect(() => setRawMode(fd)).toThrow(/setRaw/);
    expect(() => setWindowSize(fd, 80, 24)).toThrow(/setWinsize/);
  });
});
