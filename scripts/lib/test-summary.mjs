// The closing lines of scripts/test.sh: the counts of a vitest JSON report, then the same counts
// per containerd version of the e2e matrix (tests whose describe title names `(containerd X)`,
// see test/e2e/harness/matrix.ts), so one look says whether every version passed.
// Usage: node scripts/lib/test-summary.mjs <vitest.json>
import { readFileSync } from 'node:fs';

const report = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const line = (label, c) =>
  `${label}: ${c.passed} passed, ${c.failed} failed` + (c.skipped ? `, ${c.skipped} skipped` : '');

const total = { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + report.numTodoTests };
console.log(line('tests', total));

const perVersion = new Map();
for (const file of report.testResults) {
  for (const test of file.assertionResults) {
    const version = test.ancestorTitles.map((t) => /\(containerd ([^)]+)\)/.exec(t)?.[1]).find(Boolean);
    if (!version) continue;
    const c = perVersion.get(version) ?? { passed: 0, failed: 0, skipped: 0 };
    if (test.status === 'passed') c.passed++;
    else if (test.status === 'failed') c.failed++;
    else c.skipped++;
    perVersion.set(version, c);
  }
}
for (const [version, c] of [...perVersion].sort(([a], [b]) => a.localeCompare(b, undefined, { numeric: true }))) {
  console.log(line(`  containerd ${version}`, c));
}
