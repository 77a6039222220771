// Opens an RTOS console pty the way a client of micad does: O_RDWR|O_NOCTTY, raw mode (set
// with TCSANOW, so bytes already waiting in the pty are kept), reads into a buffer that tests
// wait on. Owned by the micad-sim tests; the shim has its own console code.
import { constants, openSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { setRawMode } from '../../../src/mica/pty';

export interface Console {
  /** Everything read so far. */
  text(): string;
  /** Resolves with text() once `pattern` appears; rejects after `timeoutMs`. */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<string>;
  write(data: string): void;
  close(): void;
}

export function openConsole(path: string): Console {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY);
  setRawMode(fd);
  const stream = new ReadStream(fd);
  let buffer = '';
  const waiters = new Set<() => void>();
  stream.on('data', (d: Buffer) => {
    buffer += d.toString('latin1');
    for (const w of waiters) w();
  });
  stream.on('error', () => {});
  const matches = (p: string | RegExp) => (typeof p === 'string' ? buffer.includes(p) : p.test(buffer));
  return {
    text: () => buffer,
    waitFor(pattern, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (!matches(pattern)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(buffer);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`console ${path}: no ${String(pattern)} within ${timeoutMs} ms; got ${JSON.stringify(buffer)}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    write: (data) => void stream.write(data),
    close: () => stream.destroy(),
  };
}
