// src/config: micrun's runtime configuration — the TOML schema, its defaults, validation, and
// the environment overrides (MICRUN_MICA_SOCKET_DIR, MICRUN_STATE_DIR, MICRUN_LOG_LEVEL, MICRUN_SHIM_GROUPING, MICRUN_SHIM_WHEN_EMPTY, OTel).
//
// It does not know who uses a value: it only reads and checks. It never writes the file, and it
// does not watch it (a config change applies to shims started afterwards).
export { loadConfig, defaultConfig, BOOTSTRAP_FORMS, DAEMON_GROUPINGS, DEFAULT_CONFIG_PATH, LOG_LEVELS, WHEN_EMPTY } from './load-config';
export type { BootstrapForm, Config, DaemonGrouping, LoadConfigOptions, LogLevel, WhenEmpty } from './load-config';
