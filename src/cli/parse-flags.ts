// GNU-style flag parsing for the micrun CLI: `--name value`, `--name=value`, short aliases,
// repeatable flags collected in order, booleans bare. Unknown flags and missing values are
// UsageErrors (exit status 2), never silently ignored.

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface FlagSpec {
  /** Long name without dashes. */
  name: string;
  short?: string;
  /** Takes a value (default) or is a bare boolean. */
  boolean?: boolean;
  repeat?: boolean;
}

export interface ParsedFlags {
  values: Map<string, string[]>;
  booleans: Set<string>;
  positionals: string[];
}

export function parseFlags(argv: readonly string[], specs: readonly FlagSpec[]): ParsedFlags {
  const out: ParsedFlags = { values: new Map(), booleans: new Set(), positionals: [] };
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(`--${s.name}`, s);
    if (s.short) byName.set(`-${s.short}`, s);
  }
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith('-') || arg === '-') {
      out.positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 && arg.startsWith('--') ? arg.slice(0, eq) : arg;
    const spec = byName.get(flag);
    if (!spec) throw new UsageError(`unknown flag ${flag}`);
    if (spec.boolean) {
      if (eq > 0 && arg.startsWith('--')) throw new UsageError(`flag --${spec.name} takes no value`);
      out.booleans.add(spec.name);
      continue;
    }
    let value: string | undefined;
    if (eq > 0 && arg.startsWith('--')) value = arg.slice(eq + 1);
    else value = argv[++i];
    if (value === undefined) throw new UsageError(`flag --${spec.name} needs a value`);
    const list = out.values.get(spec.name) ?? [];
    if (list.length > 0 && !spec.repeat) throw new UsageError(`flag --${spec.name} given more than once`);
    list.push(value);
    out.values.set(spec.name, list);
  }
  return out;
}
