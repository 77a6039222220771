// Copies one readable into one writable with backpressure and nothing else: no buffering of
// our own, no byte rewriting (the RTOS console is raw both ways; no CRLF games, no echo).
// When the destination's buffer is full (write() → false) the source is paused until 'drain',
// so a console producing faster than the reader only ever fills the kernel buffers plus one
// highWaterMark — memory stays bounded and nothing is dropped. A destination that is gone (or
// absent: stdio "" = not connected) discards, so a missing reader never stalls the source.
//
// Used for console → stdout and stdin → console (pump(stdin, console)).

import type { Readable, Writable } from 'node:stream';

export interface Pump {
  readonly bytes: number;
  /** Stop copying: the source stays open (its owner closes it), listeners are removed. */
  stop(): void;
  /** Resolves when the source ended (EOF), errored, or stop() was called. */
  readonly done: Promise<void>;
}

export interface PumpHooks {
  onData?: (chunk: Buffer) => void;
  onEnd?: (reason: 'eof' | 'error' | 'stopped', err?: Error) => void;
}

export function pump(src: Readable, dst: Writable | undefined, hooks: PumpHooks = {}): Pump {
  let bytes = 0;
  let stopped = false;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));

  const resume = () => {
    if (!stopped) src.resume();
  };
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    hooks.onData?.(chunk);
    if (!dst || dst.destroyed || dst.writableEnded) return;
    if (!dst.write(chunk)) {
      src.pause();
      dst.once('drain', resume);
    }
  };
  const end = (reason: 'eof' | 'error' | 'stopped', err?: Error) => {
    if (stopped) return;
    stopped = true;
    src.removeListener('data', onData);
    src.removeListener('end', onEof);
    src.removeListener('error', onError);
    dst?.removeListener('drain', resume);
    dst?.removeListener('close', resume);
    src.pause();
    hooks.onEnd?.(reason, err);
    finish();
  };
  const onEof = () => end('eof');
  const onError = (err: Error) => end('error', err);

  src.on('data', onData);
  src.once('end', onEof);
  src.once('error', onError);
  // A destination that closes while we wait for 'drain' would leave the source paused forever.
  dst?.on('close', resume);
  src.resume();

  return {
    get bytes() {
      return bytes;
    },
    stop: () => end('stopped'),
    done,
  };
}
