/*
 * containerd-shim-mica-v2: the binary containerd runs. It answers two common cases itself and
 * hands everything else to the Node shim (dist/containerd-shim-mica-v2.js beside this binary) with
 * execvp("node"):
 *   - `start` for a container whose group already has a live daemon (grouping "namespace"):
 *     start.c; ~2 ms here against ~80 ms (quiet) to ~450 ms (loaded) for a Node boot;
 *   - `delete` after a clean task Delete, when nothing is left to clean: delete.c. containerd
 *     runs it on every shim disconnect and waits for it before it removes the container.
 * Node takes the other actions, grouping "pod", a spawn of a new daemon, runtime options on stdin,
 * a config file it cannot read with certainty, anything left to clean, any error.
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

#include "launcher.h"

#define MAX_STDIN (1 << 20)

static char **g_argv;
static int g_argc;
static char *g_stdin; /* bytes read from stdin, replayed to Node on fallback */
static size_t g_stdin_len;

void run_node(void) {
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

/* Go flag syntax for the flags containerd passes; anything unusual is Node's to judge. */
static int parse_args(int argc, char **argv, struct shim_args *out) {
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
  if (i != argc - 1) return -1;
  out->action = argv[i];
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

int read_config(const char *file, int named, struct config_key *keys, size_t n_keys) {
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
    if (*value == '[' || *value == '{' || strncmp(value, "\"\"\"", 3) == 0 || strncmp(value, "\'\'\'", 3) == 0) { ok = -1; break; }
    struct config_key *want = NULL;
    for (size_t k = 0; k < n_keys; k++)
      if (strcmp(section, keys[k].section) == 0 && strcmp(key, keys[k].key) == 0) want = &keys[k];
    if (!want) continue; /* a key Node will judge when it next starts a daemon */
    char *close = value[0] == '"' ? strchr(value + 1, '"') : NULL;
    if (!close || memchr(value + 1, '\\', (size_t)(close - value - 1))) { ok = -1; break; }
    char *after = trim(close + 1);
    if (*after && *after != '#') { ok = -1; break; }
    *close = '\0';
    if ((size_t)snprintf(want->value, want->cap, "%s", value + 1) >= want->cap) { ok = -1; break; }
  }
  fclose(f);
  return ok;
}

const char *config_file(const char *named, int *is_named) {
  const char *env = getenv("MICRUN_CONFIG");
  *is_named = (named && named[0]) || (env && env[0]);
  return named && named[0] ? named : env && env[0] ? env : DEFAULT_CONFIG;
}

/* 1 when a daemon accepts connections on `path` right now (never waits on a full backlog). */
int socket_live(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof sa.sun_path) return 0;
  strcpy(sa.sun_path, path);
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
  close(fd);
  return live;
}


const char *bundle_dir(const struct shim_args *a, char *cwd, size_t cap) {
  return a->bundle && a->bundle[0] ? a->bundle : getcwd(cwd, cap);
}

int read_small_file(const char *path, char *out, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, out + len, cap - 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      int err = n < 0 ? errno : 0;
      close(fd);
      if (n < 0) { errno = err; return -1; }
      break;
    }
    len += (size_t)n;
    if (len == cap - 1) { close(fd); errno = EFBIG; return -1; }
  }
  out[len] = '\0';
  return 0;
}

int main(int argc, char **argv) {
  g_argc = argc;
  g_argv = argv;
  struct shim_args a = {0};
  if (argc < 2 || parse_args(argc, argv, &a) != 0) run_node();
  /* Another name is another runtime type (a wrapper, a copy): its group and config may differ. */
  const char *base = strrchr(argv[0], '/');
  if (strcmp(base ? base + 1 : argv[0], "containerd-shim-mica-v2") != 0) run_node();
  if (strcmp(a.action, "start") == 0) {
    if (read_stdin() != 0 || g_stdin_len > 0) run_node(); /* runtime options: Node decodes them */
    return answer_start(&a);
  }
  if (strcmp(a.action, "delete") == 0) return answer_delete(&a);
  run_node();
}
