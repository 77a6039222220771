// Pure parser of micad's `status` reply: one line formatted by
// snprintf("%-30s%-20s%-20s%s", display_name, cpu_str, state, services). The columns are padded,
// not delimited, so a 31-char name or a cpu_str of 20+ chars runs straight into the next column;
// the parser anchors on the state word instead of splitting on spaces.

import { internal } from '../errors';
import { INSTANCE_STATES, type InstanceState, type InstanceStatus } from './types';
import { STATUS_CPU_WIDTH, STATUS_NAME_FULL_MAX, STATUS_NAME_WIDTH } from './wire';

const STATE_AT = new RegExp(`^(${INSTANCE_STATES.join('|')})(?=\\s|$)`);
/** `rpmsg-tty(<path>)`, also for other tty endpoint names such as `rpmsg-tty1(<path>)`. */
const CONSOLE_TOKEN = /^rpmsg-tty[^(\s]*\(([^()\s]+)\)$/;

/** Parses one status line (as returned before MICA-SUCCESS). Throws Internal when no state. */
export function parseStatus(line: string): InstanceStatus {
  const text = line.replace(/^[\r\n]+|[\r\n]+$/g, '');
  const at = findStateColumn(text);
  if (at === undefined) return parseByFields(text);

  const state = STATE_AT.exec(text.slice(at))![1] as InstanceState;
  const { displayName, cpus } = splitNameAndCpu(text.slice(0, at));
  const services = text
    .slice(at + state.length)
    .split(/\s+/)
    .filter((s) => s.length > 0);
  return withConsole({ displayName, cpus, state, services });
}

/** The tty path announced in a `rpmsg-tty(...)` service token, whatever the tty naming. */
export function consoleFromServices(services: readonly string[]): string | undefined {
  for (const token of services) {
    const m = CONSOLE_TOKEN.exec(token);
    if (m) return m[1];
  }
  return undefined;
}

/** The state column starts at >= 50 (name >= 30 + cpu >= 20); the first state word there wins. */
function findStateColumn(text: string): number | undefined {
  for (let i = STATUS_NAME_WIDTH + STATUS_CPU_WIDTH; i < text.length; i++) {
    if (STATE_AT.test(text.slice(i))) return i;
  }
  return undefined;
}

function splitNameAndCpu(prefix: string): { displayName: string; cpus: string } {
  // A name of 31 chars (micad's longest unshortened name) fills the 30-wide column and one more
  // byte. It is recognised when the first 31 bytes hold no blank and a full 20-wide cpu column
  // still follows. (A 30-char name followed by a cpu_str of 21+ chars is indistinguishable;
  // the name is display-only, so the cpu keeps its first byte in that rare case.)
  let width = STATUS_NAME_WIDTH;
  const head = prefix.slice(0, STATUS_NAME_FULL_MAX);
  if (!/\s/.test(head) && prefix.length - STATUS_NAME_FULL_MAX >= STATUS_CPU_WIDTH) {
    width = STATUS_NAME_FULL_MAX;
  }
  return { displayName: prefix.slice(0, width).trim(), cpus: prefix.slice(width).trim() };
}

/** Fallback for lines that do not follow micad's padding: whitespace-separated fields. */
function parseByFields(text: string): InstanceStatus {
  const fields = text.split(/\s+/).filter((f) => f.length > 0);
  const stateIndex = fields.findIndex((f, i) => i > 0 && STATE_AT.test(f) && f.length <= 10);
  if (stateIndex < 1 || stateIndex > 2) {
    throw internal(`cannot parse micad's status reply (no instance state in it): "${text}"`);
  }
  return withConsole({
    displayName: fields[0]!,
    cpus: stateIndex === 2 ? fields[1]! : '',
    state: fields[stateIndex] as InstanceState,
    services: fields.slice(stateIndex + 1),
  });
}

function withConsole(status: InstanceStatus): InstanceStatus {
  const console = consoleFromServices(status.services);
  return console === undefined ? status : { ...status, console };
}
