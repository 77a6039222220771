import { expect, test } from 'vitest';
import { bootstrapOutput } from '../../src/shim/bootstrap';

const address = 'unix:///run/containerd/s/abc';

test.each([
  ['address', address],
  ['json-v2', '{"version":2,"address":"unix:///run/containerd/s/abc","protocol":"ttrpc"}'],
  ['json-v3', '{"version":3,"address":"unix:///run/containerd/s/abc","protocol":"ttrpc"}'],
] as const)('bootstrap form %s prints %s (what containerd parseStartResponse reads)', (form, printed) => {
  expect(bootstrapOutput(address, form)).toBe(printed);
});
