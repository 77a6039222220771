// Pure parser of micad-sim's `info` reply: a JSON object (fields of InstanceInfo) before
// MICA-SUCCESS. Unknown fields are ignored; a wrong type for a known field is an error, so a
// simulator bug shows up here rather than as a NaN in the shim's metrics.

import { internal } from '../errors';
import { INSTANCE_STATES, type InstanceInfo, type InstanceState } from './types';

export function parseInfo(name: string, text: string): InstanceInfo {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw internal(`micad-sim info ${name}: reply is not JSON: "${text.slice(0, 200)}"`, err);
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw internal(`micad-sim info ${name}: reply is not a JSON object: "${text.slice(0, 200)}"`);
  }
  const obj = raw as Record<string, unknown>;
  const state = obj.state;
  if (typeof state !== 'string' || !(INSTANCE_STATES as readonly string[]).includes(state)) {
    throw internal(`micad-sim info ${name}: unknown state ${JSON.stringify(state)}`);
  }
  const info: InstanceInfo = { state: state as InstanceState };
  const numbers = ['qemuPid', 'exitCode', 'cpuTimeNs', 'memoryBytes'] as const;
  for (const key of numbers) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw internal(`micad-sim info ${name}: ${key} must be a number, got ${JSON.stringify(v)}`);
    }
    info[key] = v;
  }
  if (obj.console !== undefined && obj.console !== null) {
    if (typeof obj.console !== 'string') {
      throw internal(`micad-sim info ${name}: console must be a string`);
    }
    info.console = obj.console;
  }
  return info;
}
