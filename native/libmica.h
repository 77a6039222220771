/* libmica: a C client of micad's control protocol (openEuler MICA). No Node here: binding.c
 * wraps it for JavaScript and runs every call on the libuv thread pool.
 *
 * Protocol (reference/micrun-and-micad.md §1): AF_UNIX stream sockets, one request per
 * connection. `<dir>/mica-create.socket` takes one binary struct create_msg; `<dir>/<name>.socket`
 * takes one text command (no newline, at most 31 bytes). micad answers
 * `[text]MICA-SUCCESS` or `[text]MICA-FAILED` and closes. */
#ifndef MICRUN_LIBMICA_H
#define MICRUN_LIBMICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MICA_MAX_NAME_LEN 66
#define MICA_MAX_PED_LEN 16
#define MICA_MAX_FIRMWARE_PATH_LEN 256
#define MICA_MAX_CPUSTR_LEN 128
#define MICA_MAX_IOMEM_LEN 512
#define MICA_MAX_NETWORK_LEN 512
#define MICA_CTRL_MSG_SIZE 32
#define MICA_CREATE_MSG_SIZE 1772

#define MICA_CREATE_SOCKET "mica-create.socket"
#define MICA_MSG_SUCCESS "MICA-SUCCESS"
#define MICA_MSG_FAILED "MICA-FAILED"

/* Exactly micad's struct create_msg (socket_listener.c): native alignment, host byte order.
 * libmica.c pins sizeof and every offset with static asserts. */
struct create_msg {
	char name[MICA_MAX_NAME_LEN];
	char path[MICA_MAX_FIRMWARE_PATH_LEN];
	char ped[MICA_MAX_PED_LEN];
	char ped_cfg[MICA_MAX_FIRMWARE_PATH_LEN];
	bool debug;
	char cpu_str[MICA_MAX_CPUSTR_LEN];
	int32_t vcpu_num;
	int32_t max_vcpu_num;
	int32_t cpu_weight;
	int32_t cpu_capacity;
	int32_t memory;
	int32_t max_memory;
	char iomem[MICA_MAX_IOMEM_LEN];
	char network[MICA_MAX_NETWORK_LEN];
};

/* A failed call: `code` is an errno value (ENOENT, EACCES, ECONNREFUSED, ETIMEDOUT, EPROTO,
 * EINVAL, ENAMETOOLONG, ...) and `message` says which socket or field and why. */
struct mica_error {
	int code;
	char message[512];
};

/* micad's answer: ok = MICA-SUCCESS was received; text = what came before the marker,
 * whitespace-trimmed, NUL-terminated, malloc'd (free with mica_reply_free). */
struct mica_reply {
	bool ok;
	char *text;
};

void mica_reply_free(struct mica_reply *reply);

/* Initialises a create_msg the way mica.py does: strings empty, ints -1 ("unset"). */
void mica_create_msg_init(struct create_msg *msg);

/* Copies `len` bytes of `value` into the NUL-padded field `dst` of `size` bytes. Refuses (EINVAL,
 * naming `field`) values that do not fit with their NUL or that contain a NUL byte: a silently
 * truncated name or path would address a different instance or file. Returns 0 or -1. */
int mica_set_string(char *dst, size_t size, const char *field, const char *value, size_t len,
		    struct mica_error *err);

/* Sends `msg` in one write to <socket_dir>/mica-create.socket and reads micad's reply.
 * `timeout_ms` bounds connect + write + read together. Returns 0 (see reply->ok) or -1. */
int mica_create(const char *socket_dir, const struct create_msg *msg, int timeout_ms,
		struct mica_reply *reply, struct mica_error *err);

/* Sends the text command `cmd` (at most 31 bytes, no newline, no NUL) to
 * <socket_dir>/<name>.socket and reads micad's reply. Returns 0 (see reply->ok) or -1. */
int mica_command(const char *socket_dir, const char *name, const char *cmd, int timeout_ms,
		 struct mica_reply *reply, struct mica_error *err);

#endif
