// `file:///abs/path`: console output appended to a file, created 0644 with its parent
// directories 0755 (cio.LogFile / the runc shim's "file" scheme). Writes go through the libuv
// threadpool (fs.WriteStream), so a slow disk is backpressure, not a blocked event loop.

import * as fs from 'node:fs';
import type { Writable } from 'node:stream';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import { invalidArgument } from '../../errors';

const open = promisify(fs.open);
const mkdir = promisify(fs.mkdir);
const { O_WRONLY, O_CREAT, O_APPEND, O_NOCTTY } = fs.constants;

export async function openFileSink(path: string, label: string): Promise<Writable> {
  let fd: number;
  try {
    await mkdir(dirname(path), { recursive: true, mode: 0o755 });
    fd = await open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOCTTY, 0o644);
  } catch (err) {
    throw invalidArgument(`cannot open ${label} log file "${path}": ${(err as Error).message}`, err);
  }
  return fs.createWriteStream(path, { fd, autoClose: true });
}

