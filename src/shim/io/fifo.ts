// Opening the client's stdio fifos without ever blocking the event loop, the way the runc shim
// does it (process/io.go), adapted to libuv:
// - An output fifo is opened O_RDWR: open(2) returns at once whether or not the client has
//   opened its read side yet, and because we are a reader too, writes never fail with EPIPE
//   when the client goes away (`ctr task attach` later reopens the same path and reads on).
//   Writes go through a libuv pipe handle on the non-blocking fd, so a full fifo is
//   backpressure (write() returns false, 'drain' later), never a blocked loop.
// - stdin is opened O_RDONLY|O_NONBLOCK. On Linux a fifo reader opened before any writer is
//   not reported readable or hung up until a writer has come and gone, so the client opening
//   its write side late is fine, and the client closing it is a real EOF.
// Output paths that are not fifos (a regular file, /dev/null) are appended to, like runc.

import * as fs from 'node:fs';
import * as net from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { invalidArgument } from '../../errors';

const open = promisify(fs.open);
const stat = promisify(fs.stat);
const { O_RDONLY, O_RDWR, O_WRONLY, O_APPEND, O_NONBLOCK, O_NOCTTY } = fs.constants;

/** Opens an output path given as a fifo path: the write side of a fifo, or an append stream. */
export async function openFifoWriter(path: string, label: string): Promise<Writable> {
  const st = await statOrThrow(path, label);
  if (!st.isFIFO()) {
    const fd = await openOrThrow(path, O_WRONLY | O_APPEND | O_NOCTTY, label);
    return fs.createWriteStream(path, { fd, autoClose: true });
  }
  const fd = await openOrThrow(path, O_RDWR | O_NONBLOCK, label);
  // readable: false — we hold the read side only so writes never see EPIPE; never read it.
  return new net.Socket({ fd, readable: false, writable: true });
}

/** Opens the stdin fifo for reading. Reading starts when the caller resumes the stream. */
export async function openFifoReader(path: string, label: string): Promise<Readable> {
  const st = await statOrThrow(path, label);
  if (!st.isFIFO()) throw invalidArgument(`${label} "${path}" is not a fifo`);
  const fd = await openOrThrow(path, O_RDONLY | O_NONBLOCK, label);
  const socket = new net.Socket({ fd, readable: true, writable: false, allowHalfOpen: true });
  socket.pause();
  return socket;
}

async function statOrThrow(path: string, label: string): Promise<fs.Stats> {
  try {
    return await stat(path);
  } catch (err) {
    throw invalidArgument(`${label} "${path}" cannot be used: ${(err as Error).message}`, err);
  }
}

async function openOrThrow(path: string, flags: number, label: string): Promise<number> {
  try {
    return await open(path, flags);
  } catch (err) {
    throw invalidArgument(`cannot open ${label} "${path}": ${(err as Error).message}`, err);
  }
}
