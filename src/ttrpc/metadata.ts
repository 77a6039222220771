// ttrpc metadata: repeated KeyValue pairs on the Request (repeated key = several values).
// Keys are lower-cased on the way in and out, as containerd/ttrpc's MD.Set/Get do, so
// `containerd-namespace-ttrpc` and W3C `traceparent` are found whatever case the peer used.
import type { ttrpc } from '../proto';

export type Metadata = ReadonlyMap<string, readonly string[]>;

const EMPTY: Metadata = new Map();

/** Builds the handler's view of a request's metadata. */
export function metadataFromPairs(pairs: readonly ttrpc.KeyValue.$Properties[] | null | undefined): Metadata {
  if (!pairs || pairs.length === 0) return EMPTY;
  const md = new Map<string, string[]>();
  for (const { key, value } of pairs) {
    const k = (key ?? '').toLowerCase();
    const list = md.get(k);
    if (list) list.push(value ?? '');
    else md.set(k, [value ?? '']);
  }
  return md;
}

/** Flattens a caller's metadata record into wire pairs. */
export function pairsFromRecord(record: Readonly<Record<string, string | readonly string[]>> | undefined): ttrpc.KeyValue.$Properties[] {
  if (!record) return [];
  const pairs: ttrpc.KeyValue.$Properties[] = [];
  for (const [key, v] of Object.entries(record)) {
    const k = key.toLowerCase();
    if (typeof v === 'string') pairs.push({ key: k, value: v });
    else for (const value of v) pairs.push({ key: k, value });
  }
  return pairs;
}

/** First value of `key` (case-insensitive), or undefined. */
export function firstValue(md: Metadata, key: string): string | undefined {
  return md.get(key.toLowerCase())?.[0];
}
