/*
 * `delete` answered natively when a clean task Delete already did the work. containerd runs
 * `delete` whenever its connection to a shim closes — after every task removal too — and waits
 * for it before it removes the container, so a Node boot here sat on every `ctr run --rm`.
 *
 * Answered only when nothing is left to clean: no state under the container's state dir, no
 * mount on <bundle>/rootfs, and <bundle>/address absent or naming a live daemon. The reply is
 * then what src/shim/delete.ts prints for a missing record (pid 0, exit 137, now). Anything else
 * — a record (the daemon died), a mount, a stale socket, a config we cannot read with certainty,
 * an id Node would refuse — goes to the Node path, which cleans and reports.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "launcher.h"

#define DEFAULT_STATE_DIR "/run/micrun" /* runtime.state_dir's default in src/config */
#define ID_MAX_LENGTH 76                /* src/runtime/state-store.ts */
#define CONFIG_PATH_FILE "micrun-config-path"
#define KILLED 137

/* src/runtime/state-store.ts's ID_PATTERN: alphanumeric runs joined by single '.', '_' or '-'. */
static int valid_id(const char *id) {
  size_t len = strlen(id);
  if (len == 0 || len > ID_MAX_LENGTH) return 0;
  int after_separator = 1;
  for (const char *p = id; *p; p++) {
    int alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
    if (alnum) { after_separator = 0; continue; }
    if (!strchr("._-", *p) || after_separator) return 0;
    after_separator = 1;
  }
  return !after_separator;
}

/* The state dir `delete` in Node would use: the config `start` remembered in the bundle. */
static int state_dir_of(const char *bundle, char *out, size_t cap) {
  char remembered_file[PATH_MAX], remembered[PATH_MAX];
  snprintf(remembered_file, sizeof remembered_file, "%s/%s", bundle, CONFIG_PATH_FILE);
  if (read_small_file(remembered_file, remembered, sizeof remembered) != 0) {
    if (errno != ENOENT) return -1;
    remembered[0] = '\0';
  }
  snprintf(out, cap, "%s", DEFAULT_STATE_DIR);
  struct config_key keys[] = {{"runtime", "state_dir", out, cap}};
  int named;
  const char *file = config_file(remembered, &named);
  if (read_config(file, named, keys, 1) != 0) return -1;
  const char *env = getenv("MICRUN_STATE_DIR");
  if (env && env[0]) snprintf(out, cap, "%s", env);
  return out[0] == '/' ? 0 : -1; /* Node refuses a relative one, with a message */
}

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape_mountinfo(char *s) {
  char *w = s;
  for (char *r = s; *r; r++) {
    if (r[0] == '\\' && r[1] >= '0' && r[1] <= '7' && r[2] >= '0' && r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
      *w++ = (char)((r[1] - '0') * 64 + (r[2] - '0') * 8 + (r[3] - '0'));
      r += 3;
    } else {
      *w++ = *r;
    }
  }
  *w = '\0';
}

/* 0: nothing mounted at `dir`; 1: a mount point; -1: cannot tell. */
static int mounted_at(const char *dir) {
  char real[PATH_MAX];
  if (!realpath(dir, real)) return errno == ENOENT ? 0 : -1;
  FILE *f = fopen("/proc/self/mountinfo", "r");
  if (!f) return -1;
  char *line = NULL;
  size_t cap = 0;
  int found = 0;
  while (!found && getline(&line, &cap, f) > 0) {
    char *save = NULL, *field = strtok_r(line, " ", &save);
    for (int i = 0; field && i < 4; i++) field = strtok_r(NULL, " ", &save);
    if (!field) continue;
    unescape_mountinfo(field);
    found = strcmp(field, real) == 0;
  }
  free(line);
  fclose(f);
  return found;
}

/* 0 when <bundle>/address is absent or names a daemon that answers; -1 otherwise (Node removes
 * a stale socket, src/shim/socket-probe.ts). */
static int address_clean(const char *bundle) {
  char file[PATH_MAX], address[PATH_MAX + 16];
  snprintf(file, sizeof file, "%s/address", bundle);
  if (read_small_file(file, address, sizeof address) != 0) return errno == ENOENT ? 0 : -1;
  address[strcspn(address, " \t\r\n")] = '\0';
  if (strncmp(address, "unix://", 7) != 0) return 0; /* Node leaves other forms alone too */
  return socket_live(address + 7) ? 0 : -1;
}

static size_t put_varint(uint8_t *p, uint64_t v) {
  size_t n = 0;
  for (; v >= 0x80; v >>= 7) p[n++] = (uint8_t)(v | 0x80);
  p[n++] = (uint8_t)v;
  return n;
}

/* containerd.task.v2.DeleteResponse{exit_status: 137, exited_at: now}; pid 0 is the default. */
static size_t encode_delete_response(uint8_t *out) {
  struct timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  uint8_t ts[24];
  size_t ts_len = 0;
  ts[ts_len++] = 0x08; /* Timestamp.seconds */
  ts_len += put_varint(ts + ts_len, (uint64_t)now.tv_sec);
  if (now.tv_nsec) {
    ts[ts_len++] = 0x10; /* Timestamp.nanos */
    ts_len += put_varint(ts + ts_len, (uint64_t)now.tv_nsec);
  }
  size_t n = 0;
  out[n++] = 0x10; /* exit_status */
  n += put_varint(out + n, KILLED);
  out[n++] = 0x1a; /* exited_at */
  n += put_varint(out + n, ts_len);
  memcpy(out + n, ts, ts_len);
  return n + ts_len;
}

int answer_delete(const struct shim_args *a) {
  if (!valid_id(a->id)) run_node(); /* Node says why */
  char cwd[PATH_MAX], state_dir[PATH_MAX], container_dir[PATH_MAX * 2], rootfs[PATH_MAX + 8];
  const char *bundle = bundle_dir(a, cwd, sizeof cwd);
  if (!bundle || state_dir_of(bundle, state_dir, sizeof state_dir) != 0) run_node();

  struct stat st;
  snprintf(container_dir, sizeof container_dir, "%s/containers/%s", state_dir, a->id);
  if (lstat(container_dir, &st) == 0 || errno != ENOENT) run_node(); /* a record: Node cleans it */
  snprintf(rootfs, sizeof rootfs, "%s/rootfs", bundle);
  if (mounted_at(rootfs) != 0) run_node();
  if (address_clean(bundle) != 0) run_node();

  uint8_t reply[64];
  size_t len = encode_delete_response(reply);
  return fwrite(reply, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : 1;
}
