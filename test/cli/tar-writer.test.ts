import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, expect, test } from 'vitest';
import { writeTar } from '../../src/cli';

const dir = mkdtempSync(path.join(tmpdir(), 'micrun-tar-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('GNU tar lists and extracts what writeTar wrote (modes, sizes, long names, dirs)', () => {
  const longName = `${'d'.repeat(60)}/${'e'.repeat(60)}/file-with-a-long-name.bin`; // > 100 bytes: ustar prefix
  const big = Buffer.alloc(1500, 7); // spans several 512-byte blocks with padding
  const archive = writeTar([
    { name: 'dir', mtime: 1_700_000_000 },
    { name: 'dir/firmware.elf', data: Buffer.from('\x7fELF firmware'), mode: 0o755 },
    { name: 'empty', data: Buffer.alloc(0) },
    { name: longName, data: big },
  ]);
  expect(archive.length % 512).toBe(0);
  const file = path.join(dir, 'a.tar');
  writeFileSync(file, archive);
  const listing = execFileSync('tar', ['-tvf', file], { encoding: 'utf8' }).trim().split('\n');
  expect(listing).toHaveLength(4);
  expect(listing[0]).toMatch(/^drwxr-xr-x root\/root\s+0 2023-11-\d\d \d\d:\d\d dir\/$/);
  expect(listing[1]).toMatch(/^-rwxr-xr-x root\/root\s+13 1970-01-01 00:00 dir\/firmware\.elf$/);
  expect(listing[2]).toMatch(/^-rw-r--r-- root\/root\s+0 .* empty$/);
  expect(listing[3]).toMatch(new RegExp(`^-rw-r--r-- root/root\\s+1500 .* ${longName}$`));

  const out = path.join(dir, 'x');
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xf', file, '-C', out]);
  expect(readFileSync(path.join(out, 'dir/firmware.elf'), 'utf8')).toBe('\x7fELF firmware');
  expect(statSync(path.join(out, 'dir/firmware.elf')).mode & 0o777).toBe(0o755);
  expect(readFileSync(path.join(out, longName)).equals(big)).toBe(true);
});

test('output is deterministic', () => {
  const entries = [{ name: 'a', data: Buffer.from('x') }];
  expect(writeTar(entries).equals(writeTar(entries))).toBe(true);
});

test('names that would escape or cannot fit are refused', () => {
  expect(() => writeTar([{ name: '/abs', data: Buffer.from('') }])).toThrow(/relative/);
  expect(() => writeTar([{ name: 'a/../b', data: Buffer.from('') }])).toThrow(/relative/);
  expect(() => writeTar([{ name: 'x'.repeat(300), data: Buffer.from('') }])).toThrow(/too long/);
});
