// Fault injection between the shim and micad (a proxy in front of micad-sim, real containerd,
// the built shim, QEMU): micad answering too late, answering garbage, closing the connection in
// the middle of its reply — on the create message and on the `start` command. micad did the work
// each time; only its answer is spoiled. After each: ctr run fails with a message naming micad,
// the shim answered no call with Unknown, and once the user removed the container nothing is
// left: no micad instance, QEMU, mount, shim daemon or socket, state record, task or container.
// On every containerd build of the matrix.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { describeFaultsOnEachContainerd, NOTHING_LEFT, RUNTIME } from './harness/fault-stack';
import type { Fault } from './harness/micad-proxy';

const ECHO = 'docker.io/micrun-test/echo:fault';
const MICAD_TIMEOUT_MS = 2000;
const work = mkdtempSync(path.join(tmpdir(), 'micrun-fault-micad-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

type Request = 'create' | 'start';
const matches = (request: Request, id: string) => (socket: string, text: string) =>
  request === 'create' ? socket === 'mica-create.socket' && text.includes(id) : socket === `${id}.socket` && text.startsWith('start');

// What ctr prints is containerd's rendering of the shim's error; the shim's wording is in it.
const MESSAGE: Record<Fault, RegExp> = {
  hold: new RegExp(`micad.*did not answer within ${MICAD_TIMEOUT_MS} ms`),
  garbage: /micad/,
  'close-mid-reply': /micad/,
};

describeFaultsOnEachContainerd(
  'micad faults',
  work,
  {
    stack: () => ({
      images: [['echo', ECHO]],
      micadTimeoutMs: MICAD_TIMEOUT_MS,
      // The namespace's daemon (default grouping) ends once nothing is left, so "nothing left"
      // includes it: when_empty exit rather than the default wait.
      containerd: { env: { MICRUN_SHIM_WHEN_EMPTY: 'exit' } },
    }),
  },
  (stack) => {
    describe.each([
      ['hold', 'create'],
      ['garbage', 'create'],
      ['close-mid-reply', 'create'],
      ['hold', 'start'],
      ['garbage', 'start'],
      ['close-mid-reply', 'start'],
    ] as const)('micad fault %s on %s', (fault, request) => {
      test('ctr run fails naming micad, no Unknown reply, nothing left after removal', async () => {
        const s = stack();
        const id = `${fault}-${request}`;
        const unknownReplies = s.watchUnknownReplies();
        const injected = s.proxy.inject({ fault, match: matches(request, id) });
        const r = await s.ctd.ctr(['run', '-d', '--runtime', RUNTIME, ECHO, id]);
        injected.release(); // a held reply goes to a connection the shim has given up on
        await injected.hit;
        expect(r.code, r.stdout).not.toBe(0);
        expect(r.stderr).toMatch(MESSAGE[fault]);
        await s.removeContainer(id);
        expect(await s.settledLeftovers()).toEqual(NOTHING_LEFT);
        expect(unknownReplies()).toEqual([]);
      });
    });
  },
);
