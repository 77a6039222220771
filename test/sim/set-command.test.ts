import { describe, expect, it } from 'vitest';
import { parseSetCommand } from '../../src/sim/set-command';

const USAGE = 'Invalid set command. Usage: set <key> <value>';

describe('parseSetCommand', () => {
  it.each([
    ['set cpucapacity 50', 'cpucapacity', 50],
    ['set CPUCapacity 0', 'cpucapacity', 0],
    ['set cpuweight 256', 'cpuweight', 256],
    ['set CPU 1-3', 'cpu', '1-3'],
    ['set cpu 0,2-3', 'cpu', '0,2-3'],
    ['set VCPU 2', 'vcpu', 2],
    ['set memory 64', 'memory', 64],
    ['set MaxMemory 128', 'maxmemory', 128],
    ['set  vcpu  1', 'vcpu', 1], // strtok skips repeated separators
  ])('accepts %j', (msg, key, value) => {
    expect(parseSetCommand(msg)).toEqual({ ok: true, key, value });
  });

  it.each([['set'], ['set cpu'], ['set cpu 1 2'], ['setcpu 1 2']])('answers micad\'s usage error to %j', (msg) => {
    expect(parseSetCommand(msg)).toEqual({ ok: false, text: USAGE });
  });

  it.each([
    ['set CPUCpacity 50', /Unknown resource key: CPUCpacity/],
    ['set MaxMem 64', /Unknown resource key: MaxMem/],
    ['set maxvcpu 4', /maxvcpu cannot be updated/],
    ['set vcpu two', /Invalid value for vcpu: two/],
    ['set vcpu 0', /Invalid value for vcpu: 0/],
    ['set memory -5', /Invalid value for memory: -5/],
    ['set cpuweight 70000', /Invalid value for cpuweight/],
    ['set cpu 1-', /Invalid cpu list: 1-/],
  ])('rejects %j (the Go micrun\'s misspelt keys included)', (msg, text) => {
    const result = parseSetCommand(msg);
    expect(result.ok).toBe(false);
    expect(result.ok ? '' : result.text).toMatch(text);
  });
});
