/**
 * Commander options whose values are read as what they stand for, each refusal a UsageError
 * naming the flag: integers in bounds, one of a few choices, repeatable flags; and the
 * per-option flags of the Worker and Monitor, generated from the config schema so they never
 * drift from it.
 */
import { Option } from 'commander';
import { REPEATABLE } from './cli-command.js';
import { kebab, UsageError } from './errors.js';
import { quote } from './format.js';
import { parseInteger } from './values.js';

/** '-f, --functions <module>' -> '--functions' */
const longFlag = (flags: string) => /--[\w-]+/.exec(flags)?.[0] ?? flags;

/** "a or b", "one of a, b, c" */
const oneOf = (values: readonly string[]) => (values.length === 2 ? `${values[0]} or ${values[1]}` : `one of ${values.join(', ')}`);

/** an option whose value `parse` reads (and refuses with a UsageError) */
export function parsedOption(flags: string, doc: string, parse: (raw: string) => unknown): Option {
  return new Option(flags, doc).argParser(parse);
}

export function integerOption(flags: string, doc: string, min = 0, max = Number.MAX_SAFE_INTEGER): Option {
  const name = longFlag(flags);
  // (a flag in ms says so in its value's name or its doc's first word: `--delay <ms>`, "ms between ...")
  const inMs = /<ms>/.test(flags) || /^ms\b/.test(doc);
  return parsedOption(flags, doc, (raw) => parseInteger(name, raw, min, max, inMs));
}

/**
 * One of `values` (help lists them). Commander's own check would end in its message; this one
 * ends in ours, and can take any case (`caseless`: the value is lowered).
 */
export function choiceOption(flags: string, doc: string, values: readonly string[], caseless = false): Option {
  const name = longFlag(flags);
  return new Option(flags, doc).choices(values).argParser((raw: string) => {
    const v = caseless ? raw.toLowerCase() : raw;
    if (!values.includes(v)) throw new UsageError(`${name} must be ${oneOf(values)}, got ${quote(raw)}`);
    return v;
  });
}

/** a flag that may be given more than once: its values in order */
export function repeatableOption(flags: string, doc: string): Option {
  const option = new Option(flags, doc).argParser((raw: string, previous: string[] | undefined) => [...(previous ?? []), raw]);
  REPEATABLE.add(option);
  return option;
}

interface SchemaField {
  kind: string;
  doc: string;
  default?: number | string;
  min?: number;
  values?: readonly string[];
}

/**
 * `--concurrency <n>` etc., one per field of a config schema (WORKER_FIELDS, MONITOR_FIELDS):
 * integers are read here, down to the schema's least value, and their other bounds are the
 * library's to check (its ConfigError names the flag, see asFlags); fields the command line
 * cannot hold (TLS, node lists) have none.
 */
export function fieldOptions(fields: Record<string, SchemaField>): Option[] {
  const out: Option[] = [];
  for (const [key, f] of Object.entries(fields)) {
    if (f.kind === 'tls' || f.kind === 'nodes') continue;
    const doc = f.doc.replace(/`/g, '') + (f.default !== undefined ? ` (default: ${JSON.stringify(f.default)})` : '');
    const flag = `--${kebab(key)}`;
    if (f.kind === 'string') out.push(new Option(`${flag} <value>`, doc));
    else if (f.kind === 'enum') out.push(choiceOption(`${flag} <value>`, doc, f.values ?? []));
    // (its least value said at once: `--max-attempts -1` said ">= 0", then 0 was refused as "< 1")
    else out.push(integerOption(`${flag} <n>`, doc, f.min ?? 0));
  }
  return out;
}

/** The values of `fieldOptions` given, keyed as the schema (and so the Worker/Monitor constructor) wants them. */
export function fieldValues(fields: Record<string, SchemaField>, opts: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(fields)) if (opts[key] !== undefined) out[key] = opts[key];
  return out;
}

/** `--json` of the commands that list or count */
export const jsonOption = () => new Option('--json', 'print JSON');
