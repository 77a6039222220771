// shim/io — a task's stdio ⇄ its RTOS console.
//
// Owns: parsing containerd's stdio strings (fifo path, fifo://, file://, binary://), opening
// the client's fifos without blocking, appending to log files, running and supervising
// `binary://` logging binaries (fds 3/4/5, ready handshake, restart, SIGTERM→SIGKILL), the raw
// console tty (open by path, raw mode, resize) and the byte pumps between them with
// backpressure.
// Does not know: how the console path is found (the runtime reads it from micad's status),
// the task state machine, ttrpc, or containerd events. It never interprets console bytes: no
// detach keys, no Ctrl-C handling, no CRLF rewriting, no echo — the task stops only by Kill.
// See docs/io.md.

export { TaskIO, defaultTaskIOOptions } from './task-io';
export type { StdioSpec, TaskIOContext, TaskIOOptions, TaskIOStats } from './task-io';
export { parseStdioUri } from './stdio-uri';
export type { StdioTarget, StdioName } from './stdio-uri';
export { defaultLoggerPolicy } from './logger-supervisor';
export type { LoggerPolicy } from './logger-supervisor';
