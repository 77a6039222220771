// `nerdctl run -d` on micrun, reproduced with ctr: nerdctl gives stdout and stderr the URI
// binary://<nerdctl>?_NERDCTL_INTERNAL_LOGGING=<data store> and no stdin, and its logger (here
// test/fixtures/logger/nerdctl-logger.cjs, which does what nerdctl's pkg/logging does) writes the
// console into <store>/<id>-json.log and calls containerd's Tasks.Wait for the container — the
// call goes through containerd to the shim's Wait while the task runs, and must return the exit
// status when the firmware is stopped, so that the logger ends.
// nerdctl's -dt (cio.TerminalBinaryIO: terminal, stdout = stderr = the same binary:// URI) cannot
// be sent with ctr — `ctr run -d -t` puts the task on its own console and ignores --log-uri — so
// that request is pinned one level down, in test/shim-io/terminal-binary.test.ts.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { repoRoot, taskStatus, type Containerd } from './harness/containerd';
import { startMicrunStack, type MicrunStack } from './harness/micrun-stack';
import { waitFor } from './harness/processes';

const NERDCTL_LOGGER = path.join(repoRoot, 'test', 'fixtures', 'logger', 'nerdctl-logger.cjs');
const IMAGE = 'docker.io/micrun-test/echo:nerdctl';
const BANNER = 'micrun echo firmware ready';
const work = mkdtempSync(path.join(tmpdir(), 'micrun-nerd-log-'));
let stack: MicrunStack | undefined;
let ctd: Containerd;

beforeAll(async () => {
  stack = await startMicrunStack({ stateDir: path.join(work, 'state'), images: [['echo', IMAGE]] });
  ctd = stack.ctd;
  writeFileSync(path.join(work, 'address'), ctd.address);
}, 120_000);

afterAll(async () => {
  await stack?.destroy();
  rmSync(work, { recursive: true, force: true });
}, 60_000);

const read = (file: string) => {
  try {
    return readFileSync(path.join(work, file), 'utf8');
  } catch {
    return '';
  }
};

test('-d: the logger gets the console as JSON lines, its Task.Wait returns the exit status and it ends', async () => {
  const id = 'nerd-d';
  const uri = `binary://${NERDCTL_LOGGER}?_NERDCTL_INTERNAL_LOGGING=${encodeURIComponent(work)}`;
  const ran = await ctd.ctr(['run', '-d', '--runtime', 'io.containerd.mica.v2', '--log-uri', uri, IMAGE, id]);
  expect(ran.stderr).toBe('');
  await waitFor(() => read(`${id}-json.log`).includes(BANNER), { what: `${BANNER} in ${id}-json.log`, timeoutMs: 30_000 });
  const line = JSON.parse(read(`${id}-json.log`).split('\n')[0]!);
  expect(line).toMatchObject({ stream: 'stdout', log: expect.any(String) });
  // The logger is waiting on the task through containerd, not finished.
  expect(read(`${id}.events`)).toBe('ready\n');
  expect(await taskStatus(ctd, id)).toBe('RUNNING');

  await ctd.ctr(['task', 'kill', id]); // SIGTERM: the firmware stops, exit status 143
  await waitFor(() => read(`${id}.events`).includes('exit'), { what: 'the logger to end', timeoutMs: 30_000 });
  expect(read(`${id}.exit`)).toBe('143\n');
  const events = read(`${id}.events`).trim().split('\n');
  expect(events[0]).toBe('ready');
  expect(events).toContain('wait returned 143');
  expect(events).toEqual(expect.arrayContaining(['eof stdout', 'eof stderr']));
  expect(events.at(-1)).toBe('exit');
  expect((await ctd.ctr(['task', 'delete', id])).code).toBe(0);
  expect((await ctd.ctr(['container', 'rm', id])).code).toBe(0);
}, 120_000);

