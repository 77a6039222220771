// Pseudo-terminals for RTOS consoles, through the libmica addon: micad-sim owns the console
// pty of each instance (like micad's rpmsg-tty), the shim resizes it. Raw fds are returned;
// the caller owns them and must close them (fs.closeSync).

import { loadAddon } from './addon';

export interface Pty {
  /** Master side: O_RDWR | O_CLOEXEC | O_NONBLOCK. */
  master: number;
  /** Slave side, kept open by the owner so writes to the master never fail with EIO while no
   * one else has the slave open. O_RDWR | O_NOCTTY | O_CLOEXEC, already in raw mode. */
  slave: number;
  /** Path of the slave, e.g. /dev/pts/3: what a console client opens. */
  path: string;
}

/** Opens a pty pair with the slave in raw mode (bytes pass through unchanged). */
export function openPty(): Pty {
  return loadAddon().openpty();
}

/** cfmakeraw-like: no ICRNL/IXON, no OPOST/ONLCR, CS8, no ICANON/ECHO/ISIG, VMIN=1 VTIME=0. */
export function setRawMode(fd: number): void {
  loadAddon().setRaw(fd);
}

/** TIOCSWINSZ on a pty fd (either side). */
export function setWindowSize(fd: number, cols: number, rows: number): void {
  loadAddon().setWinsize(fd, cols, rows);
}

/** TIOCGWINSZ on a pty fd. */
export function getWindowSize(fd: number): { cols: number; rows: number } {
  return loadAddon().getWinsize(fd);
}
