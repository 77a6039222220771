#define _GNU_SOURCE
#include "pty.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

int mica_pty_set_raw(int fd)
{
	struct termios t;

	if (tcgetattr(fd, &t) < 0)
		return -errno;
	t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF);
	t.c_oflag &= ~(OPOST | ONLCR);
	t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
	t.c_cflag &= ~(CSIZE | PARENB);
	t.c_cflag |= CS8;
	t.c_cc[VMIN] = 1;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &t) < 0)
		return -errno;
	return 0;
}

int mica_pty_open(struct mica_pty *pty)
{
	int master, slave, flags, rc;

	master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (master < 0)
		return -errno;
	if (grantpt(master) < 0 || unlockpt(master) < 0 ||
	    ptsname_r(master, pty->path, sizeof(pty->path)) != 0)
		goto fail_master;
	/* Non-blocking master: its reader is an event loop (libuv / a poll loop), never a thread
	 * that may block. The slave stays blocking; whoever opens it by path picks its own mode. */
	flags = fcntl(master, F_GETFL);
	if (flags < 0 || fcntl(master, F_SETFL, flags | O_NONBLOCK) < 0)
		goto fail_master;
	slave = open(pty->path, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0)
		goto fail_master;
	rc = mica_pty_set_raw(slave);
	if (rc < 0) {
		close(slave);
		close(master);
		return rc;
	}
	pty->master = master;
	pty->slave = slave;
	return 0;

fail_master:
	rc = -errno;
	close(master);
	return rc;
}

int mica_pty_set_winsize(int fd, unsigned short cols, unsigned short rows)
{
	struct winsize ws = { .ws_row = rows, .ws_col = cols };

	if (ioctl(fd, TIOCSWINSZ, &ws) < 0)
		return -errno;
	return 0;
}

int mica_pty_get_winsize(int fd, unsigned short *cols, unsigned short *rows)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) < 0)
		return -errno;
	*cols = ws.ws_col;
	*rows = ws.ws_row;
	return 0;
}
