/* What the launcher's parts share: the parsed argv, the hand-over to Node and small file helpers. */
#ifndef MICRUN_LAUNCHER_H
#define MICRUN_LAUNCHER_H

#include <stddef.h>

#define DEFAULT_CONFIG "/etc/mica/micrun/config.toml"

/* The flags containerd passes to every shim action, and the action itself. */
struct shim_args {
  const char *namespace, *address, *id, *bundle, *action;
};

/* Runs the Node shim with our argv (and whatever stdin we consumed). Never returns. */
void run_node(void) __attribute__((noreturn));

/* One `key = "string"` of the config file to read: section, key, where the value goes. */
struct config_key {
  const char *section, *key;
  char *value;
  size_t cap;
};

/*
 * Reads the wanted keys from a config file made of `[section]` headers, comments and one-line
 * `key = value` pairs. Anything else (dotted keys, multi-line values, inline tables) returns -1:
 * the Node path reads full TOML. Values stay as given when unset. A missing file is the defaults
 * unless it was named (then -1: Node reports it).
 */
int read_config(const char *file, int named, struct config_key *keys, size_t n_keys);

/* The config file Node would read: `named` (a remembered choice) when set, else
 * $MICRUN_CONFIG, else the default; *is_named says whether a missing file is an error. */
const char *config_file(const char *named, int *is_named);

/* 1 when a daemon accepts connections on `path` right now (never waits on a full backlog). */
int socket_live(const char *path);

/* The bundle: -bundle, else the working directory (containerd runs shims in the bundle). */
const char *bundle_dir(const struct shim_args *a, char *cwd, size_t cap);

/* Reads a small file whole (NUL-terminated); 0, or -1 with errno set. */
int read_small_file(const char *path, char *out, size_t cap);

/* The two actions answered natively; each returns the exit code or calls run_node(). */
int answer_start(const struct shim_args *a);
int answer_delete(const struct shim_args *a);

#endif
