// What every line of a shim daemon's log carries. A daemon serves a group of containers (a pod,
// or the whole namespace under grouping `namespace`) and outlives the container whose `start`
// spawned it, so its base fields name no container — only the namespace. A line about one
// container names it itself, with `{ id }` (the runtime's lines, TaskIO's child logger). pino
// does not merge an `id` given there with one in the base: it writes both, and a base naming
// the first container made every later container's line read `"id":"p0", … "id":"p5"`.
import path from 'node:path';
import type { ShimLoggerOptions } from '../telemetry/logger';

export function daemonLogOptions(bundle: string, namespace: string, level: string): ShimLoggerOptions {
  return { logPath: path.join(bundle, 'log'), level, base: { namespace } };
}
