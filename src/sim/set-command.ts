// micad's `set <key> <value>`: tokenising like micad's strtok on single spaces, the keys it
// accepts (case-insensitive) and the values xl would take. Pure: the instance only records the
// result (there is no hypervisor to resize in the simulator).

import { RESOURCE_KEYS, type ResourceKey } from '../mica/types';
import { INVALID_SET_TEXT } from '../mica/wire';


export type SetCommand =
  | { ok: true; key: ResourceKey; value: string | number }
  | { ok: false; text: string };

/** Parses the whole command text (starting with "set"). */
export function parseSetCommand(msg: string): SetCommand {
  // strtok(" ") skips empty tokens: "set  cpu 1" still has 3 tokens.
  const tokens = msg.split(' ').filter((t) => t !== '');
  if (tokens.length !== 3 || tokens[0] !== 'set') return { ok: false, text: INVALID_SET_TEXT };
  const [, rawKey, rawValue] = tokens as [string, string, string];
  const key = rawKey.toLowerCase();
  if (key === 'maxvcpu') {
    return { ok: false, text: 'maxvcpu cannot be updated at run time' };
  }
  if (!(RESOURCE_KEYS as readonly string[]).includes(key)) {
    return { ok: false, text: `Unknown resource key: ${rawKey} (one of ${RESOURCE_KEYS.join(', ')})` };
  }
  return validateValue(key as ResourceKey, rawValue);
}

function validateValue(key: ResourceKey, raw: string): SetCommand {
  if (key === 'cpu') {
    // cpuset syntax as `xl vcpu-pin` takes it: "2", "0-3", "0,2-3"; "all" too.
    if (raw === 'all' || /^\d+(-\d+)?(,\d+(-\d+)?)*$/.test(raw)) return { ok: true, key, value: raw };
    return { ok: false, text: `Invalid cpu list: ${raw} (cpuset syntax, e.g. 0-3 or 0,2)` };
  }
  if (!/^\d+$/.test(raw)) return { ok: false, text: `Invalid value for ${key}: ${raw} (a non-negative integer)` };
  const value = Number(raw);
  const min = key === 'cpucapacity' ? 0 : 1;
  const max = key === 'cpuweight' ? 65535 : 2 ** 31 - 1;
  if (value < min || value > max) {
    return { ok: false, text: `Invalid value for ${key}: ${raw} (${min}..${max})` };
  }
  return { ok: true, key, value };
}
