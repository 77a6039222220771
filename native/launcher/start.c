/*
 * `start` answered natively: the container's group already has a live daemon (shim.grouping
 * "namespace"), so the reply is that daemon's address — no Node boot on containerd's path.
 *
 * Both paths must print the same address: sha256(path.Join(address, namespace, "@namespace"))
 * under MICRUN_SHIM_SOCKET_DIR or /run/containerd/s (src/shim/socket-address.ts), pinned by the
 * shared vectors in test/fixtures/socket-address-vectors.json. If the daemon stops answering
 * between the first probe and the reply, the Node path decides instead.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher.h"
#include "sha256.h"

#define DEFAULT_SOCKET_ROOT "/run/containerd/s"
#define NAMESPACE_GROUP "@namespace"

/* Go's path.Join(a, b, c): join with '/', then Clean (the Node side uses path.posix.join). */
static void join_clean(const char *a, const char *b, const char *c, char *out, size_t cap) {
  char joined[PATH_MAX * 2];
  snprintf(joined, sizeof joined, "%s/%s/%s", a, b, c);
  int rooted = joined[0] == '/';
  char *parts[PATH_MAX];
  int n = 0;
  for (char *tok = strtok(joined, "/"); tok; tok = strtok(NULL, "/")) {
    if (strcmp(tok, ".") == 0) continue;
    if (strcmp(tok, "..") == 0) {
      if (n > 0 && strcmp(parts[n - 1], "..") != 0) { n--; continue; }
      if (rooted) continue;
    }
    parts[n++] = tok;
  }
  size_t len = 0;
  out[0] = '\0';
  if (rooted) len += (size_t)snprintf(out + len, cap - len, "/");
  for (int i = 0; i < n && len < cap; i++) len += (size_t)snprintf(out + len, cap - len, "%s%s", i ? "/" : "", parts[i]);
  if (len == 0) snprintf(out, cap, ".");
}

static int write_file(const char *dir, const char *name, const char *text) {
  char file[PATH_MAX];
  snprintf(file, sizeof file, "%s/%s", dir, name);
  int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return -1;
  size_t len = strlen(text);
  int ok = write(fd, text, len) == (ssize_t)len;
  return close(fd) == 0 && ok ? 0 : -1;
}

int answer_start(const struct shim_args *a) {
  char grouping[64] = "namespace", bootstrap[64] = "address"; /* the defaults of src/config */
  struct config_key keys[] = {
    {"shim", "grouping", grouping, sizeof grouping},
    {"shim", "bootstrap", bootstrap, sizeof bootstrap},
  };
  int named;
  const char *file = config_file(NULL, &named);
  if (read_config(file, named, keys, sizeof keys / sizeof *keys) != 0) run_node();
  const char *env_grouping = getenv("MICRUN_SHIM_GROUPING");
  if (env_grouping && env_grouping[0]) snprintf(grouping, sizeof grouping, "%s", env_grouping);
  if (strcmp(grouping, "namespace") != 0) run_node(); /* pod grouping reads config.json: Node's job */
  const char *form = strcmp(bootstrap, "address") == 0 ? "%s" : strcmp(bootstrap, "json-v2") == 0
      ? "{\"version\":2,\"address\":\"%s\",\"protocol\":\"ttrpc\"}" : strcmp(bootstrap, "json-v3") == 0
      ? "{\"version\":3,\"address\":\"%s\",\"protocol\":\"ttrpc\"}" : NULL;
  if (!form) run_node();

  char joined[PATH_MAX * 2], socket_path[PATH_MAX], address[PATH_MAX + 16];
  join_clean(a->address, a->namespace, NAMESPACE_GROUP, joined, sizeof joined);
  uint8_t digest[32];
  sha256((const uint8_t *)joined, strlen(joined), digest);
  const char *root = getenv("MICRUN_SHIM_SOCKET_DIR");
  int len = snprintf(socket_path, sizeof socket_path, "%s/", root && root[0] ? root : DEFAULT_SOCKET_ROOT);
  for (int i = 0; i < 32; i++) len += snprintf(socket_path + len, sizeof socket_path - (size_t)len, "%02x", digest[i]);
  snprintf(address, sizeof address, "unix://%s", socket_path);
  if (strpbrk(address, "\"\\")) run_node(); /* would need JSON escaping */

  if (!socket_live(socket_path)) run_node(); /* no daemon yet, or a stale socket: Node spawns one */
  char cwd[PATH_MAX];
  const char *bundle = bundle_dir(a, cwd, sizeof cwd);
  if (!bundle || write_file(bundle, "address", address) != 0) run_node(); /* Node reports the error */
  if (!socket_live(socket_path)) run_node(); /* it went away meanwhile (stopping daemon) */
  printf(form, address);
  return fflush(stdout) == 0 ? 0 : 1;
}
