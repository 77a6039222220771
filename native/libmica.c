#define _GNU_SOURCE
#include "libmica.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* The layout micad reads with one recv(fd, &msg, sizeof(msg), 0). A drift here would make
 * micad read a firmware path out of the name field, so the build fails instead. */
_Static_assert(sizeof(struct create_msg) == MICA_CREATE_MSG_SIZE, "create_msg must be 1772 bytes");
_Static_assert(offsetof(struct create_msg, name) == 0, "name@0");
_Static_assert(offsetof(struct create_msg, path) == 66, "path@66");
_Static_assert(offsetof(struct create_msg, ped) == 322, "ped@322");
_Static_assert(offsetof(struct create_msg, ped_cfg) == 338, "ped_cfg@338");
_Static_assert(offsetof(struct create_msg, debug) == 594, "debug@594");
_Static_assert(offsetof(struct create_msg, cpu_str) == 595, "cpu_str@595");
_Static_assert(offsetof(struct create_msg, vcpu_num) == 724, "vcpu_num@724 (1 pad byte at 723)");
_Static_assert(offsetof(struct create_msg, max_vcpu_num) == 728, "max_vcpu_num@728");
_Static_assert(offsetof(struct create_msg, cpu_weight) == 732, "cpu_weight@732");
_Static_assert(offsetof(struct create_msg, cpu_capacity) == 736, "cpu_capacity@736");
_Static_assert(offsetof(struct create_msg, memory) == 740, "memory@740");
_Static_assert(offsetof(struct create_msg, max_memory) == 744, "max_memory@744");
_Static_assert(offsetof(struct create_msg, iomem) == 748, "iomem@748");
_Static_assert(offsetof(struct create_msg, network) == 1260, "network@1260");

/* micad's replies are a status line or a short message; anything this large is not micad. */
#define MICA_REPLY_MAX (64 * 1024)

static int fail(struct mica_error *err, int code, const char *fmt, ...)
{
	va_list ap;

	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

void mica_reply_free(struct mica_reply *reply)
{
	free(reply->text);
	reply->text = NULL;
}

void mica_create_msg_init(struct create_msg *msg)
{
	/* memset also zeroes the padding byte: the bytes on the wire are fully determined. */
	memset(msg, 0, sizeof(*msg));
	msg->vcpu_num = -1;
	msg->max_vcpu_num = -1;
	msg->cpu_weight = -1;
	msg->cpu_capacity = -1;
	msg->memory = -1;
	msg->max_memory = -1;
}

int mica_set_string(char *dst, size_t size, const char *field, const char *value, size_t len,
		    struct mica_error *err)
{
	if (memchr(value, '\0', len))
		return fail(err, EINVAL, "%s contains a NUL byte", field);
	if (len > size - 1)
		return fail(err, EINVAL, "%s is %zu bytes; micad accepts at most %zu", field, len,
			    size - 1);
	memset(dst, 0, size);
	memcpy(dst, value, len);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(long long deadline)
{
	long long left = deadline - now_ms();

	return left > 0 ? (int)left : 0;
}

/* Waits until fd is ready for `events` or the deadline passes. 0 = ready, -1 = error set. */
static int wait_ready(int fd, short events, long long deadline, int timeout_ms, const char *path,
		      const char *phase, struct mica_error *err)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int left = remaining_ms(deadline);
		int n;

		if (left == 0)
			return fail(err, ETIMEDOUT, "micad did not answer within %d ms (%s, while %s)",
				    timeout_ms, path, phase);
		n = poll(&p, 1, left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return fail(err, errno, "poll on %s failed while %s: %s", path, phase,
				    strerror(errno));
	}
}

static int connect_socket(const char *path, const char *what, long long deadline, int timeout_ms,
			  struct mica_error *err)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return fail(err, ENAMETOOLONG,
			    "socket path %s is %zu bytes; unix sockets allow at most %zu (use a "
			    "shorter socket directory)",
			    path, strlen(path), sizeof(addr.sun_path) - 1);
	memcpy(addr.sun_path, path, strlen(path));

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return fail(err, errno, "cannot create a unix socket: %s", strerror(errno));

	for (;;) {
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
			return fd;
		switch (errno) {
		case EINTR:
			continue;
		case EAGAIN:
			/* A non-blocking unix connect fails with EAGAIN while the listener's backlog
			 * is full (micad serves one request at a time): retry until the deadline. */
			if (remaining_ms(deadline) == 0) {
				close(fd);
				return fail(err, ETIMEDOUT,
					    "micad did not answer within %d ms (%s, while connecting: "
					    "backlog full)",
					    timeout_ms, path);
			}
			usleep(5000);
			continue;
		case ENOENT:
			close(fd);
			return fail(err, ENOENT, "%s (no %s)", what, path);
		case EACCES:
		case EPERM:
			close(fd);
			return fail(err, EACCES,
				    "permission denied connecting to %s (micad's sockets belong to "
				    "root: run as root or fix the socket directory's permissions)",
				    path);
		case ECONNREFUSED:
			close(fd);
			return fail(err, ECONNREFUSED,
				    "%s refuses connections: a stale socket, micad is not listening "
				    "(restart micad)",
				    path);
		default: {
			int code = errno;

			close(fd);
			return fail(err, code, "cannot connect to %s: %s", path, strerror(code));
		}
		}
	}
}

static int send_all(int fd, const void *buf, size_t len, const char *path, long long deadline,
		    int timeout_ms, struct mica_error *err)
{
	const char *p = buf;

	/* micad does a single recv(): the whole message must go out in one write. A unix stream
	 * socket's send buffer (>= 200 KiB) takes 1772 bytes at once; the loop only guards the
	 * theoretical partial write. */
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n >= 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN) {
			if (wait_ready(fd, POLLOUT, deadline, timeout_ms, path, "writing", err) < 0)
				return -1;
			continue;
		}
		return fail(err, errno, "cannot write to %s: %s", path, strerror(errno));
	}
	return 0;
}

static void trim_into(struct mica_reply *reply, const char *buf, size_t len)
{
	size_t start = 0;

	while (start < len && isspace((unsigned char)buf[start]))
		start++;
	while (len > start && isspace((unsigned char)buf[len - 1]))
		len--;
	reply->text = malloc(len - start + 1);
	if (reply->text) {
		memcpy(reply->text, buf + start, len - start);
		reply->text[len - start] = '\0';
	}
}

/* Reads until the buffer holds MICA-FAILED (checked first, like mica.py) or MICA-SUCCESS. */
static int read_reply(int fd, const char *path, long long deadline, int timeout_ms,
		      struct mica_reply *reply, struct mica_error *err)
{
	char *buf = malloc(MICA_REPLY_MAX + 1);
	size_t len = 0;

	if (!buf)
		return fail(err, ENOMEM, "out of memory reading micad's reply");
	for (;;) {
		const char *marker;
		ssize_t n;

		buf[len] = '\0';
		/* micad never sends NUL, so string search over the bytes received is exact. */
		if ((marker = memmem(buf, len, MICA_MSG_FAILED, strlen(MICA_MSG_FAILED)))) {
			reply->ok = false;
			trim_into(reply, buf, (size_t)(marker - buf));
			break;
		}
		if ((marker = memmem(buf, len, MICA_MSG_SUCCESS, strlen(MICA_MSG_SUCCESS)))) {
			reply->ok = true;
			trim_into(reply, buf, (size_t)(marker - buf));
			break;
		}
		if (len == MICA_REPLY_MAX) {
			free(buf);
			return fail(err, EPROTO, "%s sent %d bytes without MICA-SUCCESS/MICA-FAILED",
				    path, MICA_REPLY_MAX);
		}
		if (wait_ready(fd, POLLIN, deadline, timeout_ms, path, "reading the reply", err) < 0) {
			free(buf);
			return -1;
		}
		n = recv(fd, buf + len, MICA_REPLY_MAX - len, 0);
		if (n > 0) {
			len += (size_t)n;
			continue;
		}
		if (n == 0) {
			fail(err, EPROTO,
			     "micad closed %s without MICA-SUCCESS/MICA-FAILED (received %zu bytes: "
			     "\"%.200s\")",
			     path, len, buf);
			free(buf);
			return -1;
		}
		if (errno == EINTR || errno == EAGAIN)
			continue;
		fail(err, errno, "cannot read from %s: %s", path, strerror(errno));
		free(buf);
		return -1;
	}
	free(buf);
	if (!reply->text)
		return fail(err, ENOMEM, "out of memory reading micad's reply");
	return 0;
}

static int transact(const char *path, const char *what, const void *msg, size_t len,
		    int timeout_ms, struct mica_reply *reply, struct mica_error *err)
{
	long long deadline = now_ms() + timeout_ms;
	int fd, rc;

	reply->ok = false;
	reply->text = NULL;
	fd = connect_socket(path, what, deadline, timeout_ms, err);
	if (fd < 0)
		return -1;
	rc = send_all(fd, msg, len, path, deadline, timeout_ms, err);
	if (rc == 0)
		rc = read_reply(fd, path, deadline, timeout_ms, reply, err);
	close(fd);
	return rc;
}

int mica_create(const char *socket_dir, const struct create_msg *msg, int timeout_ms,
		struct mica_reply *reply, struct mica_error *err)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", socket_dir, MICA_CREATE_SOCKET);
	return transact(path, "micad is not running", msg, sizeof(*msg), timeout_ms, reply, err);
}

int mica_command(const char *socket_dir, const char *name, const char *cmd, int timeout_ms,
		 struct mica_reply *reply, struct mica_error *err)
{
	char path[4096], what[160];
	size_t len = strlen(cmd);

	reply->text = NULL;
	if (len == 0)
		return fail(err, EINVAL, "empty micad command");
	if (len > MICA_CTRL_MSG_SIZE - 1)
		return fail(err, EINVAL,
			    "micad command \"%s\" is %zu bytes; micad reads at most %d (it would "
			    "truncate it)",
			    cmd, len, MICA_CTRL_MSG_SIZE - 1);
	if (strpbrk(cmd, "\r\n"))
		return fail(err, EINVAL, "micad command must not contain a newline");
	if (name[0] == '\0' || strchr(name, '/') || strlen(name) > MICA_MAX_NAME_LEN - 1)
		return fail(err, EINVAL, "invalid micad instance name \"%.80s\"", name);
	snprintf(path, sizeof(path), "%s/%s.socket", socket_dir, name);
	snprintf(what, sizeof(what), "micad has no instance %s", name);
	return transact(path, what, cmd, len, timeout_ms, reply, err);
}
