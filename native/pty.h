/* Pseudo-terminal helpers used by micad-sim (console ptys) and the shim (console resize).
 * Plain C, no Node: binding.c exposes them to JavaScript. */
#ifndef MICRUN_PTY_H
#define MICRUN_PTY_H

#include <stddef.h>

struct mica_pty {
	int master;      /* O_RDWR | O_CLOEXEC | O_NONBLOCK */
	int slave;       /* O_RDWR | O_NOCTTY | O_CLOEXEC, raw mode */
	char path[128];  /* slave path, e.g. /dev/pts/3 */
};

/* Opens a pty pair. The slave is put in raw mode (see mica_pty_set_raw) so that bytes pass
 * through unchanged, like micad's rpmsg-tty. Returns 0 or -errno; on error nothing stays open. */
int mica_pty_open(struct mica_pty *pty);

/* cfmakeraw-like: no ICRNL/IXON, no OPOST/ONLCR, CS8, no ICANON/ECHO/ISIG, VMIN=1 VTIME=0.
 * Returns 0 or -errno. */
int mica_pty_set_raw(int fd);

/* TIOCSWINSZ / TIOCGWINSZ. Return 0 or -errno. */
int mica_pty_set_winsize(int fd, unsigned short cols, unsigned short rows);
int mica_pty_get_winsize(int fd, unsigned short *cols, unsigned short *rows);

#endif
