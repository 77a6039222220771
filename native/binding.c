/* N-API binding of libmica (micad client) and the pty helpers. JavaScript sees:
 *   create(socketDir, params, timeoutMs?)        -> Promise<{ ok, text }>
 *   command(socketDir, name, cmd, timeoutMs?)    -> Promise<{ ok, text }>
 *   packCreateMessage(params)                    -> Buffer (1772 bytes; for tests)
 *   openpty() -> { master, slave, path }; setRaw(fd); setWinsize(fd, cols, rows);
 *   getWinsize(fd) -> { cols, rows }
 * Socket calls run as napi_async_work on the libuv pool: the event loop never waits on micad.
 * Transport failures reject with an Error whose `code` is the errno name (ENOENT, EACCES,
 * ECONNREFUSED, ETIMEDOUT, EPROTO, EINVAL, ...); micad's own MICA-FAILED resolves { ok: false }.
 * Type errors in arguments throw synchronously; invalid values (too long, out of range) reject. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <node_api.h>

#include "libmica.h"
#include "pty.h"

#define DEFAULT_TIMEOUT_MS 5000

#define CHECK(env, call)                                                            \
	do {                                                                        \
		if ((call) != napi_ok) {                                            \
			napi_throw_error((env), NULL, "libmica: N-API call failed: " #call); \
			return NULL;                                                \
		}                                                                   \
	} while (0)

static const char *errno_name(int code)
{
	const char *name = strerrorname_np(code);

	return name ? name : "EIO";
}

static napi_value make_error(napi_env env, int code, const char *message)
{
	napi_value msg, err, code_value, errno_value;

	napi_create_string_utf8(env, message, NAPI_AUTO_LENGTH, &msg);
	napi_create_error(env, NULL, msg, &err);
	napi_create_string_utf8(env, errno_name(code), NAPI_AUTO_LENGTH, &code_value);
	napi_set_named_property(env, err, "code", code_value);
	napi_create_int32(env, code, &errno_value);
	napi_set_named_property(env, err, "errno", errno_value);
	return err;
}

static napi_value throw_errno(napi_env env, int code, const char *what)
{
	char message[256];

	snprintf(message, sizeof(message), "%s: %s", what, strerror(code));
	napi_throw(env, make_error(env, code, message));
	return NULL;
}

static napi_value rejected(napi_env env, const struct mica_error *err)
{
	napi_deferred deferred;
	napi_value promise;

	napi_create_promise(env, &deferred, &promise);
	napi_reject_deferred(env, deferred, make_error(env, err->code, err->message));
	return promise;
}

/* Reads a JS string into a malloc'd NUL-terminated buffer; *len excludes the NUL. Throws a
 * TypeError naming `what` when value is not a string. */
static char *get_string(napi_env env, napi_value value, const char *what, size_t *len)
{
	napi_valuetype type;
	size_t n = 0;
	char *s;

	napi_typeof(env, value, &type);
	if (type != napi_string) {
		char message[128];

		snprintf(message, sizeof(message), "%s must be a string", what);
		napi_throw_type_error(env, NULL, message);
		return NULL;
	}
	napi_get_value_string_utf8(env, value, NULL, 0, &n);
	s = malloc(n + 1);
	if (!s) {
		napi_throw_error(env, NULL, "libmica: out of memory");
		return NULL;
	}
	napi_get_value_string_utf8(env, value, s, n + 1, &n);
	if (len)
		*len = n;
	return s;
}

static bool is_absent(napi_env env, napi_value value)
{
	napi_valuetype type;

	napi_typeof(env, value, &type);
	return type == napi_undefined || type == napi_null;
}

/* Fills msg from a CreateParams object. Returns 0; -1 with a pending exception (type error);
 * -2 with err set (a value micad cannot take). */
static int read_params(napi_env env, napi_value obj, struct create_msg *msg, struct mica_error *err)
{
	static const struct {
		const char *key;
		size_t offset, size;
	} strings[] = {
		{ "name", offsetof(struct create_msg, name), MICA_MAX_NAME_LEN },
		{ "firmwarePath", offsetof(struct create_msg, path), MICA_MAX_FIRMWARE_PATH_LEN },
		{ "pedestal", offsetof(struct create_msg, ped), MICA_MAX_PED_LEN },
		{ "pedestalConfig", offsetof(struct create_msg, ped_cfg), MICA_MAX_FIRMWARE_PATH_LEN },
		{ "cpus", offsetof(struct create_msg, cpu_str), MICA_MAX_CPUSTR_LEN },
		{ "iomem", offsetof(struct create_msg, iomem), MICA_MAX_IOMEM_LEN },
		{ "network", offsetof(struct create_msg, network), MICA_MAX_NETWORK_LEN },
	};
	static const struct {
		const char *key;
		size_t offset;
	} ints[] = {
		{ "vcpus", offsetof(struct create_msg, vcpu_num) },
		{ "maxVcpus", offsetof(struct create_msg, max_vcpu_num) },
		{ "cpuWeight", offsetof(struct create_msg, cpu_weight) },
		{ "cpuCapacity", offsetof(struct create_msg, cpu_capacity) },
		{ "memoryMiB", offsetof(struct create_msg, memory) },
		{ "maxMemoryMiB", offsetof(struct create_msg, max_memory) },
	};
	napi_valuetype type;
	napi_value v;
	size_t i;

	napi_typeof(env, obj, &type);
	if (type != napi_object) {
		napi_throw_type_error(env, NULL, "create parameters must be an object");
		return -1;
	}
	mica_create_msg_init(msg);

	for (i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		char *s;
		size_t len;
		int rc;

		napi_get_named_property(env, obj, strings[i].key, &v);
		if (is_absent(env, v)) {
			if (i == 0 || i == 1) {
				snprintf(err->message, sizeof(err->message), "create: %s is required",
					 strings[i].key);
				err->code = EINVAL;
				return -2;
			}
			continue;
		}
		s = get_string(env, v, strings[i].key, &len);
		if (!s)
			return -1;
		rc = mica_set_string((char *)msg + strings[i].offset, strings[i].size, strings[i].key,
				     s, len, err);
		free(s);
		if (rc < 0)
			return -2;
	}
	if (msg->name[0] == '\0') {
		err->code = EINVAL;
		snprintf(err->message, sizeof(err->message), "create: name must not be empty");
		return -2;
	}

	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		double d;

		napi_get_named_property(env, obj, ints[i].key, &v);
		if (is_absent(env, v))
			continue; /* stays -1 = unset */
		napi_typeof(env, v, &type);
		if (type != napi_number) {
			char message[128];

			snprintf(message, sizeof(message), "%s must be a number", ints[i].key);
			napi_throw_type_error(env, NULL, message);
			return -1;
		}
		napi_get_value_double(env, v, &d);
		if (!isfinite(d) || d != floor(d) || d < -1 || d > INT32_MAX) {
			err->code = EINVAL;
			snprintf(err->message, sizeof(err->message),
				 "create: %s must be an integer in [-1, %d] (got %g)", ints[i].key,
				 INT32_MAX, d);
			return -2;
		}
		*(int32_t *)((char *)msg + ints[i].offset) = (int32_t)d;
	}

	napi_get_named_property(env, obj, "debug", &v);
	if (!is_absent(env, v)) {
		bool b;

		if (napi_get_value_bool(env, v, &b) != napi_ok) {
			napi_throw_type_error(env, NULL, "debug must be a boolean");
			return -1;
		}
		msg->debug = b;
	}
	return 0;
}

/* Reads an optional timeout argument; -1 with a pending exception when it is not a number. */
static int read_timeout(napi_env env, napi_value value)
{
	napi_valuetype type;
	double d;

	napi_typeof(env, value, &type);
	if (type == napi_undefined || type == napi_null)
		return DEFAULT_TIMEOUT_MS;
	if (type != napi_number || napi_get_value_double(env, value, &d) != napi_ok || !(d > 0)) {
		napi_throw_type_error(env, NULL, "timeoutMs must be a positive number");
		return -1;
	}
	return d > INT_MAX ? INT_MAX : (int)ceil(d);
}

/* ---- async calls --------------------------------------------------------------------------- */

struct call {
	napi_async_work work;
	napi_deferred deferred;
	bool is_create;
	struct create_msg msg;
	char *socket_dir;
	char *name;
	char *cmd;
	int timeout_ms;
	int rc;
	struct mica_reply reply;
	struct mica_error err;
};

static void call_free(struct call *c)
{
	free(c->socket_dir);
	free(c->name);
	free(c->cmd);
	mica_reply_free(&c->reply);
	free(c);
}

/* Runs on a libuv pool thread: touches only the call's own C data, never N-API. */
static void call_execute(napi_env env, void *data)
{
	struct call *c = data;

	if (c->is_create)
		c->rc = mica_create(c->socket_dir, &c->msg, c->timeout_ms, &c->reply, &c->err);
	else
		c->rc = mica_command(c->socket_dir, c->name, c->cmd, c->timeout_ms, &c->reply,
				     &c->err);
}

static void call_complete(napi_env env, napi_status status, void *data)
{
	struct call *c = data;

	if (status != napi_ok) {
		c->err.code = ECANCELED;
		snprintf(c->err.message, sizeof(c->err.message), "micad call was cancelled");
		c->rc = -1;
	}
	if (c->rc == 0) {
		napi_value result, ok, text;

		napi_create_object(env, &result);
		napi_get_boolean(env, c->reply.ok, &ok);
		napi_create_string_utf8(env, c->reply.text ? c->reply.text : "", NAPI_AUTO_LENGTH,
					&text);
		napi_set_named_property(env, result, "ok", ok);
		napi_set_named_property(env, result, "text", text);
		napi_resolve_deferred(env, c->deferred, result);
	} else {
		napi_reject_deferred(env, c->deferred, make_error(env, c->err.code, c->err.message));
	}
	napi_delete_async_work(env, c->work);
	call_free(c);
}

static napi_value queue_call(napi_env env, struct call *c)
{
	napi_value promise, resource_name;

	CHECK(env, napi_create_promise(env, &c->deferred, &promise));
	napi_create_string_utf8(env, c->is_create ? "libmica.create" : "libmica.command",
				NAPI_AUTO_LENGTH, &resource_name);
	if (napi_create_async_work(env, NULL, resource_name, call_execute, call_complete, c,
				   &c->work) != napi_ok ||
	    napi_queue_async_work(env, c->work) != napi_ok) {
		c->err.code = EIO;
		snprintf(c->err.message, sizeof(c->err.message), "cannot queue the micad call");
		napi_reject_deferred(env, c->deferred, make_error(env, c->err.code, c->err.message));
		call_free(c);
	}
	return promise;
}

static napi_value js_create(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	struct call *c;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	c = calloc(1, sizeof(*c));
	if (!c)
		return throw_errno(env, ENOMEM, "create");
	c->is_create = true;
	c->socket_dir = get_string(env, argv[0], "socketDir", NULL);
	if (!c->socket_dir)
		goto thrown;
	c->timeout_ms = read_timeout(env, argc > 2 ? argv[2] : NULL);
	if (c->timeout_ms < 0)
		goto thrown;
	rc = read_params(env, argv[1], &c->msg, &c->err);
	if (rc == -1)
		goto thrown;
	if (rc == -2) {
		napi_value p = rejected(env, &c->err);

		call_free(c);
		return p;
	}
	return queue_call(env, c);
thrown:
	call_free(c);
	return NULL;
}

static napi_value js_command(napi_env env, napi_callback_info info)
{
	size_t argc = 4;
	napi_value argv[4];
	struct call *c;
	size_t len;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	c = calloc(1, sizeof(*c));
	if (!c)
		return throw_errno(env, ENOMEM, "command");
	c->socket_dir = get_string(env, argv[0], "socketDir", NULL);
	if (!c->socket_dir)
		goto thrown;
	c->name = get_string(env, argv[1], "name", &len);
	if (!c->name)
		goto thrown;
	if (strlen(c->name) != len) {
		c->err.code = EINVAL;
		snprintf(c->err.message, sizeof(c->err.message), "instance name contains a NUL byte");
		goto reject;
	}
	c->cmd = get_string(env, argv[2], "cmd", &len);
	if (!c->cmd)
		goto thrown;
	if (strlen(c->cmd) != len) {
		c->err.code = EINVAL;
		snprintf(c->err.message, sizeof(c->err.message), "micad command contains a NUL byte");
		goto reject;
	}
	c->timeout_ms = read_timeout(env, argc > 3 ? argv[3] : NULL);
	if (c->timeout_ms < 0)
		goto thrown;
	return queue_call(env, c);
reject: {
	napi_value p = rejected(env, &c->err);

	call_free(c);
	return p;
}
thrown:
	call_free(c);
	return NULL;
}

static napi_value js_pack_create_message(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], buffer;
	struct create_msg msg;
	struct mica_error err = { 0 };
	void *data;
	int rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	rc = read_params(env, argv[0], &msg, &err);
	if (rc == -1)
		return NULL;
	if (rc == -2) {
		napi_throw(env, make_error(env, err.code, err.message));
		return NULL;
	}
	CHECK(env, napi_create_buffer_copy(env, sizeof(msg), &msg, &data, &buffer));
	return buffer;
}

/* ---- pty ----------------------------------------------------------------------------------- */

static int get_fd(napi_env env, napi_value value, int *fd)
{
	if (napi_get_value_int32(env, value, fd) != napi_ok || *fd < 0) {
		napi_throw_type_error(env, NULL, "fd must be a non-negative integer");
		return -1;
	}
	return 0;
}

static napi_value js_openpty(napi_env env, napi_callback_info info)
{
	struct mica_pty pty;
	napi_value result, master, slave, path;
	int rc = mica_pty_open(&pty);

	if (rc < 0)
		return throw_errno(env, -rc, "openpty");
	CHECK(env, napi_create_object(env, &result));
	napi_create_int32(env, pty.master, &master);
	napi_create_int32(env, pty.slave, &slave);
	napi_create_string_utf8(env, pty.path, NAPI_AUTO_LENGTH, &path);
	napi_set_named_property(env, result, "master", master);
	napi_set_named_property(env, result, "slave", slave);
	napi_set_named_property(env, result, "path", path);
	return result;
}

static napi_value js_set_raw(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];
	int fd, rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (get_fd(env, argv[0], &fd) < 0)
		return NULL;
	rc = mica_pty_set_raw(fd);
	if (rc < 0)
		return throw_errno(env, -rc, "setRaw");
	return NULL;
}

static napi_value js_set_winsize(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3];
	int fd, cols, rows, rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (get_fd(env, argv[0], &fd) < 0)
		return NULL;
	if (napi_get_value_int32(env, argv[1], &cols) != napi_ok ||
	    napi_get_value_int32(env, argv[2], &rows) != napi_ok || cols < 0 || rows < 0 ||
	    cols > 65535 || rows > 65535) {
		napi_throw_range_error(env, NULL, "cols and rows must be integers in [0, 65535]");
		return NULL;
	}
	rc = mica_pty_set_winsize(fd, (unsigned short)cols, (unsigned short)rows);
	if (rc < 0)
		return throw_errno(env, -rc, "setWinsize");
	return NULL;
}

static napi_value js_get_winsize(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1], result, cols_v, rows_v;
	unsigned short cols, rows;
	int fd, rc;

	CHECK(env, napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
	if (get_fd(env, argv[0], &fd) < 0)
		return NULL;
	rc = mica_pty_get_winsize(fd, &cols, &rows);
	if (rc < 0)
		return throw_errno(env, -rc, "getWinsize");
	CHECK(env, napi_create_object(env, &result));
	napi_create_uint32(env, cols, &cols_v);
	napi_create_uint32(env, rows, &rows_v);
	napi_set_named_property(env, result, "cols", cols_v);
	napi_set_named_property(env, result, "rows", rows_v);
	return result;
}

NAPI_MODULE_INIT()
{
	napi_property_descriptor props[] = {
		{ "create", NULL, js_create, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "command", NULL, js_command, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "packCreateMessage", NULL, js_pack_create_message, NULL, NULL, NULL, napi_enumerable,
		  NULL },
		{ "openpty", NULL, js_openpty, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "setRaw", NULL, js_set_raw, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "setWinsize", NULL, js_set_winsize, NULL, NULL, NULL, napi_enumerable, NULL },
		{ "getWinsize", NULL, js_get_winsize, NULL, NULL, NULL, napi_enumerable, NULL },
	};

	if (napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props) != napi_ok)
		return NULL;
	return exports;
}
