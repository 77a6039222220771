/*
 * containerd-shim-mica-v2: the binary containerd runs. It answers one case itself — `start` for a
 * container whose group already has a live daemon (config shim.grouping = "namespace") — and
 * hands everything else to the Node shim (dist/containerd-shim-mica-v2.js beside this binary)
 * with execvp("node"): the other actions, grouping "pod", a spawn of a new daemon, runtime options
 * on stdin, a config file it cannot read with certainty, any error. That case is the common one
 * once a namespace's daemon runs, and it costs ~2 ms here against ~80 ms for a Node boot.
 *
 * Both paths must print the same address: sha256(path.Join(address, namespace, "@namespace"))
 * under MICRUN_SHIM_SOCKET_DIR or /run/containerd/s (src/shim/socket-address.ts), pinned by the
 * shared vectors in test/fixtures/socket-address-vectors.json. If the daemon stops answering
 * between the first probe and the reply, the Node path decides instead.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sha256.h"

#define DEFAULT_CONFIG "/etc/mica/micrun/config.toml"
#define DEFAULT_SOCKET_ROOT "/run/containerd/s"
#define NAMESPACE_GROUP "@namespace"
#define MAX_STDIN (1 << 20)

static char **g_argv;
static int g_argc;
static char *g_stdin; /* bytes read from stdin, replayed to Node on fallback */
static size_t g_stdin_len;

/* Runs the Node shim with our argv (and whatever stdin we consumed). Never returns. */
static void run_node(void) {
  char self[PATH_MAX], js[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) {
    fprintf(stderr, "containerd-shim-mica-v2: cannot find its own path: %s\n", strerror(errno));
    exit(1);
  }
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  *slash = '\0';
  snprintf(js, sizeof js, "%s/containerd-shim-mica-v2.js", self);
  if (g_stdin_len > 0) {
    /* The options we read must reach Node as its stdin: a memfd rewound to the start. */
    int fd = memfd_create("micrun-start-options", 0);
    if (fd < 0 || write(fd, g_stdin, g_stdin_len) != (ssize_t)g_stdin_len || lseek(fd, 0, SEEK_SET) != 0 || dup2(fd, 0) < 0) {
      fprintf(stderr, "containerd-shim-mica-v2: cannot pass the runtime options on: %s\n", strerror(errno));
      exit(1);
    }
    close(fd);
  }
  char **argv = calloc((size_t)g_argc + 2, sizeof *argv);
  argv[0] = "node";
  argv[1] = js;
  for (int i = 1; i < g_argc; i++) argv[i + 1] = g_argv[i];
  execvp("node", argv);
  fprintf(stderr, "containerd-shim-mica-v2: cannot run node for %s: %s\n", js, strerror(errno));
  exit(1);
}

struct start_args {
  const char *namespace, *address, *id, *bundle;
};

/* Go flag syntax for the flags containerd passes; anything unusual is Node's to judge. */
static int parse_start(int argc, char **argv, struct start_args *out) {
  static const char *strings[] = {"namespace", "address", "publish-binary", "id", "bundle", "socket", "debug-socket"};
  int i = 1;
  for (; i < argc; i++) {
    const char *w = argv[i];
    if (w[0] != '-' || w[1] == '\0') break;
    if (strcmp(w, "--") == 0) { i++; break; }
    const char *name = w[1] == '-' ? w + 2 : w + 1;
    if (strcmp(name, "debug") == 0) continue;
    const char *eq = strchr(name, '=');
    size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
    int known = 0;
    for (size_t k = 0; k < sizeof strings / sizeof *strings; k++)
      if (strlen(strings[k]) == name_len && strncmp(strings[k], name, name_len) == 0) known = 1;
    if (!known) return -1;
    const char *value = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
    if (!value) return -1;
    if (strncmp(name, "namespace", name_len) == 0 && name_len == 9) out->namespace = value;
    else if (strncmp(name, "address", name_len) == 0 && name_len == 7) out->address = value;
    else if (strncmp(name, "id", name_len) == 0 && name_len == 2) out->id = value;
    else if (strncmp(name, "bundle", name_len) == 0 && name_len == 6) out->bundle = value;
  }
  if (i != argc - 1 || strcmp(argv[i], "start") != 0) return -1;
  if (!out->id || !out->id[0] || !out->namespace || !out->address) return -1;
  return 0;
}

/* Reads stdin when containerd gave a pipe or file (options); a terminal or /dev/null is not read. */
static int read_stdin(void) {
  struct stat st;
  if (fstat(0, &st) != 0) return 0;
  if (!S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode) && !S_ISSOCK(st.st_mode)) return 0;
  g_stdin = malloc(MAX_STDIN);
  for (;;) {
    if (g_stdin_len == MAX_STDIN) return -1;
    ssize_t n = read(0, g_stdin + g_stdin_len, MAX_STDIN - g_stdin_len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return -1;
    if (n == 0) return 0;
    g_stdin_len += (size_t)n;
  }
}

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  char *e = s + strlen(s);
  while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = '\0';
  return s;
}

/*
 * shim.grouping and shim.bootstrap from the config file, for a file made of `[section]` headers,
 * comments and one-line `key = value` pairs. Anything else (dotted keys, multi-line values,
 * inline tables) returns -1: the Node path reads full TOML. Values stay as given when unset.
 */
static int read_config(const char *file, int named, char *grouping, char *bootstrap, size_t cap) {
  FILE *f = fopen(file, "r");
  if (!f) return errno == ENOENT && !named ? 0 : -1;
  char line[4096], section[128] = "";
  int ok = 0;
  while (ok == 0 && fgets(line, sizeof line, f)) {
    char *s = trim(line);
    if (*s == '\0' || *s == '#') continue;
    if (*s == '[') {
      char *end = strchr(s, ']');
      if (!end || s[1] == '[') { ok = -1; break; }
      *end = '\0';
      char *rest = trim(end + 1);
      if (*rest && *rest != '#') { ok = -1; break; }
      snprintf(section, sizeof section, "%s", trim(s + 1));
      continue;
    }
    char *eq = strchr(s, '=');
    if (!eq) { ok = -1; break; }
    *eq = '\0';
    char *key = trim(s), *value = trim(eq + 1);
    if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != strlen(key)) { ok = -1; break; }
    if (*value == '[' || *value == '{' || strncmp(value, "\"\"\"", 3) == 0 || strncmp(value, "'''", 3) == 0) { ok = -1; break; }
    if (strcmp(section, "shim") != 0) continue;
    char *target = strcmp(key, "grouping") == 0 ? grouping : strcmp(key, "bootstrap") == 0 ? bootstrap : NULL;
    if (!target) continue; /* a key Node will judge when it next starts a daemon */
    char *close = value[0] == '"' ? strchr(value + 1, '"') : NULL;
    if (!close || memchr(value + 1, '\\', (size_t)(close - value - 1))) { ok = -1; break; }
    char *after = trim(close + 1);
    if (*after && *after != '#') { ok = -1; break; }
    *close = '\0';
    snprintf(target, cap, "%s", value + 1);
  }
  fclose(f);
  return ok;
}

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

/* 1 when a daemon accepts connections on `path` right now (never waits on a full backlog). */
static int socket_live(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return 0;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return live;
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

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  struct start_args a = {0};
  if (argc < 2 || parse_start(argc, argv, &a) != 0) run_node();
  /* Another name is another runtime type (a wrapper, a copy): its namespace group differs. */
  const char *base = strrchr(argv[0], '/');
  if (strcmp(base ? base + 1 : argv[0], "containerd-shim-mica-v2") != 0) run_node();
  if (read_stdin() != 0 || g_stdin_len > 0) run_node(); /* runtime options: Node decodes them */

  const char *named = getenv("MICRUN_CONFIG");
  char grouping[64] = "namespace", bootstrap[64] = "address"; /* the defaults of src/config */
  int has_named = named && named[0];
  if (read_config(has_named ? named : DEFAULT_CONFIG, has_named, grouping, bootstrap, sizeof grouping) != 0) run_node();
  const char *env_grouping = getenv("MICRUN_SHIM_GROUPING");
  if (env_grouping && env_grouping[0]) snprintf(grouping, sizeof grouping, "%s", env_grouping);
  if (strcmp(grouping, "namespace") != 0) run_node(); /* pod grouping reads config.json: Node's job */
  const char *form = strcmp(bootstrap, "address") == 0 ? "%s" : strcmp(bootstrap, "json-v2") == 0
      ? "{\"version\":2,\"address\":\"%s\",\"protocol\":\"ttrpc\"}" : strcmp(bootstrap, "json-v3") == 0
      ? "{\"version\":3,\"address\":\"%s\",\"protocol\":\"ttrpc\"}" : NULL;
  if (!form) run_node();

  char joined[PATH_MAX * 2], socket_path[PATH_MAX], address[PATH_MAX + 16];
  join_clean(a.address, a.namespace, NAMESPACE_GROUP, joined, sizeof joined);
  uint8_t digest[32];
  sha256((const uint8_t *)joined, strlen(joined), digest);
  const char *root = getenv("MICRUN_SHIM_SOCKET_DIR");
  int len = snprintf(socket_path, sizeof socket_path, "%s/", root && root[0] ? root : DEFAULT_SOCKET_ROOT);
  for (int i = 0; i < 32; i++) len += snprintf(socket_path + len, sizeof socket_path - (size_t)len, "%02x", digest[i]);
  snprintf(address, sizeof address, "unix://%s", socket_path);
  if (strpbrk(address, "\"\\")) run_node(); /* would need JSON escaping */

  if (!socket_live(socket_path)) run_node(); /* no daemon yet, or a stale socket: Node spawns one */
  char cwd[PATH_MAX];
  const char *bundle = a.bundle && a.bundle[0] ? a.bundle : getcwd(cwd, sizeof cwd);
  if (!bundle || write_file(bundle, "address", address) != 0) run_node(); /* Node reports the error */
  if (!socket_live(socket_path)) run_node(); /* it went away meanwhile (stopping daemon) */
  printf(form, address);
  return fflush(stdout) == 0 ? 0 : 1;
}
