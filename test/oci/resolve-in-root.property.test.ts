// Property: whatever path is asked for, resolveInRoot either refuses or names a file inside the
// rootfs — across `..`, `.`, absolute and relative symlinks, loops and escaping links.
import fc from 'fast-check';
import { mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { formatCpuset, parseCpuset, resolveInRoot } from '../../src/oci';

const base = realpathSync(mkdtempSync(path.join(tmpdir(), 'micrun-prop-')));
const root = path.join(base, 'rootfs');
afterAll(() => rmSync(base, { recursive: true, force: true }));

mkdirSync(path.join(root, 'a/b'), { recursive: true });
writeFileSync(path.join(root, 'a/b/f.elf'), 'x');
writeFileSync(path.join(base, 'host-secret'), 'secret');
symlinkSync('../..', path.join(root, 'a/b/up2')); // back to the root: allowed
symlinkSync('../../..', path.join(root, 'a/b/up3')); // one above the root: must be refused
symlinkSync('/a', path.join(root, 'abs')); // absolute: inside the rootfs
symlinkSync(path.join(base, 'host-secret'), path.join(root, 'hostlink')); // absolute host path: read inside
symlinkSync('loop', path.join(root, 'loop'));

test('resolveInRoot never names anything outside the rootfs', async () => {
  const component = fc.constantFrom('a', 'b', 'f.elf', '..', '.', 'up2', 'up3', 'abs', 'hostlink', 'loop', 'missing', '');
  await fc.assert(
    fc.asyncProperty(fc.array(component, { maxLength: 8 }), fc.boolean(), async (parts, absolute) => {
      const p = (absolute ? '/' : '') + parts.join('/');
      const r = await resolveInRoot(root, p);
      if (r.ok) {
        expect(r.hostPath === root || r.hostPath.startsWith(root + path.sep)).toBe(true);
        expect(path.resolve(root + r.rootfsPath)).toBe(r.hostPath);
      } else {
        expect(r.reason.length).toBeGreaterThan(0);
      }
    }),
    { numRuns: 400 },
  );
});

test('cpuset: canonical form parses back to the same CPUs', () => {
  fc.assert(
    fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 64 }), { minLength: 1, maxLength: 20 }), (cpus) => {
      const sorted = [...cpus].sort((a, b) => a - b);
      expect(parseCpuset(formatCpuset(sorted), 'f')).toEqual(sorted);
      expect(parseCpuset(cpus.join(','), 'f')).toEqual(sorted);
    }),
  );
});
