// The RTOS console as the shim sees it: the slave side of the pty that micad (rpmsg-tty) or
// micad-sim owns, opened by path. One fd, O_RDWR, in raw mode, serves both directions.
//
// Why tty.ReadStream and nothing else: net.Socket refuses tty fds, and tty.WriteStream calls
// setBlocking(true), so a console whose output buffer is full (RTOS not reading) would freeze
// the whole shim. A tty.ReadStream is a full duplex libuv stream: libuv reopens the slave by
// its ttyname and makes that fd non-blocking, so reads are event driven and writes queue
// (write() returns false → wait for 'drain') instead of blocking. Raw mode comes from the
// addon's cfmakeraw-like setRawMode, not tty.setRawMode, which keeps ONLCR and would turn
// every "\n" we send into "\r\n".
// fd ownership: libuv reopens the tty into a new fd and dup2()s it over ours, so the fd we
// opened stays open beside the handle's own; we keep it for ioctls and close it ourselves.

import * as fs from 'node:fs';
import * as tty from 'node:tty';
import { promisify } from 'node:util';
import { failedPrecondition, invalidArgument } from '../../errors';
import { setRawMode, setWindowSize } from '../../mica/pty';

const open = promisify(fs.open);
const close = promisify(fs.close);
const { O_RDWR, O_NOCTTY, O_NONBLOCK } = fs.constants;

export class ConsolePort {
  private closed = false;

  private constructor(
    readonly path: string,
    private readonly fd: number,
    /** Read console output from it (pause/resume for backpressure); write input to it. */
    readonly stream: tty.ReadStream,
    private readonly ownsFd: boolean,
    /** libuv fell back to blocking writes (ttyname failed): worth a warning in the log. */
    readonly blockingWrites: boolean,
  ) {}

  static async open(path: string): Promise<ConsolePort> {
    let fd: number;
    try {
      fd = await open(path, O_RDWR | O_NOCTTY | O_NONBLOCK);
    } catch (err) {
      throw failedPrecondition(`cannot open RTOS console "${path}": ${(err as Error).message}`, err);
    }
    try {
      if (!tty.isatty(fd)) throw invalidArgument(`RTOS console "${path}" is not a tty`);
      setRawMode(fd);
      const stream = new tty.ReadStream(fd);
      stream.pause();
      const handleFd = (stream as unknown as { _handle?: { fd?: number } })._handle?.fd;
      // Same fd ⇒ libuv could not reopen the tty and fell back to blocking writes.
      return new ConsolePort(path, fd, stream, handleFd !== fd, handleFd === fd);
    } catch (err) {
      await close(fd).catch(() => undefined);
      throw err;
    }
  }

  /** TIOCSWINSZ on the console tty. The RTOS never sees it (rpmsg has no window size), but
   * tools reading the slave's size (stty size) and a later attach do. */
  resize(cols: number, rows: number): void {
    if (this.closed) return;
    setWindowSize(this.fd, cols, rows);
  }

  /** Closes the fd. Input still queued for the RTOS is dropped: the task is going away. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await new Promise<void>((resolve) => {
      if (this.stream.closed) return resolve();
      this.stream.once('close', () => resolve());
      this.stream.destroy();
    });
    if (this.ownsFd) await close(this.fd).catch(() => undefined);
  }
}
