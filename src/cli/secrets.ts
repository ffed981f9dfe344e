/**
 * Secrets reach the CLI from a file or the environment, not argv, which `ps` shows to every user
 * of the host. Each secret is a pair of flags: `--x-file <path>`, and `--x <secret>` that also
 * takes the environment variable (commander's `.env()`). Typed, it still works, with a warning;
 * typed together with the file it is a usage error (which one was meant?); the file wins over
 * the environment. An empty value counts as none.
 */
import { readFileSync } from 'node:fs';
import { Option } from 'commander';
import { UsageError } from './errors.js';
import { quote } from './format.js';

export interface SecretFlags {
  /** the file flag, e.g. --secret-file */
  file: string;
  /** the flag that takes the secret itself, e.g. --secret */
  value: string;
  /** the variable, e.g. TASK_SWARM_SECRET */
  env: string;
  /** what it is, for help: "the shared secret authenticating peer pings" */
  what: string;
}

export const REDIS_PASSWORD: SecretFlags = { file: '--redis-password-file', value: '--redis-password', env: 'REDIS_PASSWORD', what: 'the Redis password' };
export const SENTINEL_PASSWORD: SecretFlags = {
  file: '--redis-sentinel-password-file',
  value: '--redis-sentinel-password',
  env: 'REDIS_SENTINEL_PASSWORD',
  what: "the sentinels' password (with sentinels)",
};
export const PEER_SECRET: SecretFlags = { file: '--secret-file', value: '--secret', env: 'TASK_SWARM_SECRET', what: 'the shared secret authenticating peer pings' };

/** the two flags of a secret, for a command's options */
export function secretOptions(s: SecretFlags, fileDoc = ''): Option[] {
  return [
    new Option(`${s.file} <path>`, `file holding ${s.what}${fileDoc}`),
    new Option(`${s.value} <secret>`, 'the secret itself: visible to other users in ps, prefer the file or the variable').env(s.env),
  ];
}

/** commander's attribute of a flag: --redis-password-file -> redisPasswordFile */
const attribute = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase());

/** where a secret came from, and what it is */
export interface Secret {
  value: string;
  /** the flag that gave it, or the variable */
  from: string;
  fromEnv: boolean;
}

/**
 * The secret `s` as given: `values` are the command's option values (with the parent's), and
 * `source` says where each came from (commander's 'cli', 'env'). `warn` is told when it was typed.
 */
export function secretOf(s: SecretFlags, values: Record<string, unknown>, source: (key: string) => string | undefined, warn: (text: string) => void): Secret | undefined {
  const file = values[attribute(s.file)];
  const value = values[attribute(s.value)];
  const typed = typeof value === 'string' && source(attribute(s.value)) === 'cli';
  if (typed) warn(`${s.value} is visible to other users in ps; use ${s.file} <path> or env ${s.env} instead`);
  if (typed && typeof file === 'string') throw new UsageError(`${s.value} and ${s.file} both given: use one (${s.file} keeps it out of ps)`);
  if (typeof file === 'string') return { value: readSecretFile(s.file, file), from: s.file, fromEnv: false };
  // (typed empty, as `--secret "$UNSET"` gives: none at all would be taken silently, a peer
  // secret off; an empty variable is read as unset, as a shell's empty assignment means)
  if (typed && value === '') throw new UsageError(`${s.value} is empty: give the secret (or leave ${s.value} out)`);
  if (typeof value === 'string' && value !== '') return { value, from: typed ? s.value : `env ${s.env}`, fromEnv: !typed };
  return undefined;
}

/**
 * A secret kept in a file: its content without the trailing newline an editor or `echo` adds.
 * Unreadable or empty is a usage error.
 */
export function readSecretFile(flag: string, path: string): string {
  let content: string;
  try {
    content = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = { ENOENT: 'no such file', EISDIR: 'a directory', EACCES: 'permission denied' }[code ?? ''] ?? (e as Error).message.split('\n')[0];
    throw new UsageError(`${flag} ${quote(path)}: cannot read it (${why})`);
  }
  const secret = content.replace(/(?:\r?\n)+$/, '');
  if (secret === '') throw new UsageError(`${flag} ${quote(path)}: the file is empty`);
  return secret;
}
