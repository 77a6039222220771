// Ending an output stream within a bound. end() lets queued bytes reach the reader; if nobody
// reads a full fifo, 'finish' never comes, so after timeoutMs the stream is destroyed and the
// unread tail dropped (nobody was there to read it). Resolves once the fd is closed, so callers
// (and the fd-leak tests) can rely on "close() returned ⇒ no fd left".

import type { Writable } from 'node:stream';

export function closeWritable(stream: Writable, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (stream.closed) return resolve();
    const timer = setTimeout(() => stream.destroy(), timeoutMs);
    stream.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    // A reader gone or an fd already closed surfaces here; ending anyway is the point.
    stream.on('error', () => stream.destroy());
    if (stream.writableEnded) {
      if (stream.writableFinished) stream.destroy();
      return;
    }
    stream.end(() => stream.destroy());
  });
}
