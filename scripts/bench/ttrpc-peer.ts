// One side of the ttrpc benchmark, bundled by scripts/bench/ttrpc.mjs and run as its own process:
//   ttrpc-peer server <socket>   serves bench.Task/Connect (decode + encode, like the shim) and
//                                bench.Task/Rss; prints "ready" once listening
//   ttrpc-peer client <socket> <json options>   runs the measurements, prints one JSON line
import { containerd } from '../../src/proto';
import { TtrpcClient, TtrpcServer } from '../../src/ttrpc';

const [mode, socketPath, optionsJson] = process.argv.slice(2);
const { ConnectRequest, ConnectResponse } = containerd.task.v2;

async function server(): Promise<void> {
  const server = new TtrpcServer();
  server.register('bench.Task', {
    Connect: async (payload) => {
      const req = ConnectRequest.decode(payload);
      return ConnectResponse.encode({ shimPid: process.pid, taskPid: req.id.length, version: '2' }).finish();
    },
    Rss: async () => new TextEncoder().encode(String(process.memoryUsage().rss)),
  });
  await server.listen(socketPath!);
  process.stdout.write('ready\n');
  process.on('SIGTERM', () => void server.close(100).then(() => process.exit(0)));
}

interface Options {
  warmup: number;
  serialCalls: number;
  concurrency: number;
  concurrentMs: number;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

function summarize(latenciesNs: number[], elapsedNs: number) {
  const us = latenciesNs.map((n) => n / 1e3).sort((a, b) => a - b);
  return {
    calls: us.length,
    callsPerSec: Math.round(us.length / (elapsedNs / 1e9)),
    p50us: +percentile(us, 50).toFixed(1),
    p99us: +percentile(us, 99).toFixed(1),
  };
}

async function client(): Promise<void> {
  const opts = JSON.parse(optionsJson!) as Options;
  const c = await TtrpcClient.connect(socketPath!);
  const payload = ConnectRequest.encode({ id: 'bench-container-0001' }).finish();
  const call = () => c.call('bench.Task', 'Connect', payload);
  const rss = async () => Number(new TextDecoder().decode(await c.call('bench.Task', 'Rss', new Uint8Array(0)))) / 2 ** 20;
  const serverRssIdleMiB = +(await rss()).toFixed(1);
  for (let i = 0; i < opts.warmup; i++) await call();

  // one call in flight
  const serial: number[] = [];
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < opts.serialCalls; i++) {
    const s = process.hrtime.bigint();
    await call();
    serial.push(Number(process.hrtime.bigint() - s));
  }
  const serialSummary = summarize(serial, Number(process.hrtime.bigint() - t0));

  // `concurrency` calls in flight: each worker issues its next call as soon as one returns
  const concurrent: number[] = [];
  t0 = process.hrtime.bigint();
  const stopAt = t0 + BigInt(opts.concurrentMs) * 1_000_000n;
  const worker = async () => {
    while (process.hrtime.bigint() < stopAt) {
      const s = process.hrtime.bigint();
      await call();
      concurrent.push(Number(process.hrtime.bigint() - s));
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  const concurrentSummary = summarize(concurrent, Number(process.hrtime.bigint() - t0));

  const serverRssMiB = +(await rss()).toFixed(1);
  c.close();
  process.stdout.write(
    JSON.stringify({ serial: serialSummary, concurrent: { ...concurrentSummary, inFlight: opts.concurrency }, serverRssIdleMiB, serverRssMiB, clientRssMiB: +(process.memoryUsage().rss / 2 ** 20).toFixed(1) }) + '\n',
  );
}

(mode === 'server' ? server() : client()).catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
