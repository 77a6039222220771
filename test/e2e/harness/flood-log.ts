// Reads what the flood-forever firmware (test/fixtures/firmware/flood.c) left in a log: "line 1",
// "line 2", … each ended by "\r\n" (micad's rpmsg-tty translation). Shared by the console-flood
// e2e test and benchmark.

export interface FloodLog {
  /** Complete lines, all in order without gap or repeat. */
  lines: number;
  bytes: number;
  /** Why the text is not an unbroken "line 1" … "line N" sequence (undefined when it is). */
  error?: string;
}

/** Checks that `text` is exactly "line 1\r\n" … "line N\r\n", optionally followed by a cut-off
 * prefix of "line N+1\r\n" (the task was killed mid-line). */
export function readFloodLog(text: string): FloodLog {
  const parts = text.split('\r\n');
  const tail = parts.pop() ?? '';
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] !== `line ${i + 1}`) {
      return { lines: i, bytes: text.length, error: `line ${i + 1} is ${JSON.stringify(parts[i]?.slice(0, 40))}` };
    }
  }
  const next = `line ${parts.length + 1}\r\n`;
  if (!next.startsWith(tail)) {
    return { lines: parts.length, bytes: text.length, error: `after line ${parts.length}: ${JSON.stringify(tail.slice(0, 40))}` };
  }
  return { lines: parts.length, bytes: text.length };
}
