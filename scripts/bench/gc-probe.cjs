// Preloaded into the shim daemons the RSS benchmarks start
// (NODE_OPTIONS="--expose-gc --require scripts/bench/gc-probe.cjs", passed on by `start`).
// On SIGUSR2 it runs a full GC, then appends process.memoryUsage() (KiB) as one JSON line to
// $MICRUN_BENCH_GC_PROBE_DIR/<pid>.jsonl. Raw VmRSS mostly shows how lazily V8 collects and
// how far it has grown its heap; the figures after a full GC show what is really retained.
// Only `serve` processes install it; the `start` one-shot is left alone.
'use strict';
const fs = require('node:fs');
const path = require('node:path');

const dir = process.env.MICRUN_BENCH_GC_PROBE_DIR;
if (dir && process.argv.includes('serve') && typeof globalThis.gc === 'function') {
  process.on('SIGUSR2', () => {
    globalThis.gc();
    const kib = (n) => Math.round(n / 1024);
    const m = process.memoryUsage();
    const spaces = {};
    for (const sp of require('node:v8').getHeapSpaceStatistics()) {
      spaces[sp.space_name] = { size: kib(sp.space_size), used: kib(sp.space_used_size) };
    }
    const line = { rss: kib(m.rss), heapTotal: kib(m.heapTotal), heapUsed: kib(m.heapUsed), external: kib(m.external), spaces };
    fs.appendFileSync(path.join(dir, `${process.pid}.jsonl`), JSON.stringify(line) + '\n');
  });
}
