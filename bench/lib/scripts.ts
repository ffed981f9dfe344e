/**
 * Names for the Lua scripts of the three libraries, so that EVALSHA/EVAL entries in SLOWLOG
 * can be attributed (Task Swarm's FCALLs name their function: `ts_<hash>_<script>`): sha1 of each script's source (what ioredis and Bee-Queue send) and the
 * first bytes of it (SLOWLOG truncates arguments to 128 bytes, so an EVAL carries only that).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ScriptIndex {
  bySha: Map<string, string>;
  byPrefix: [string, string][];
}

const sha1 = (s: string) => createHash('sha1').update(s).digest('hex');

export async function scriptIndex(): Promise<ScriptIndex> {
  const bySha = new Map<string, string>();
  const byPrefix: [string, string][] = [];
  const add = (name: string, src: string) => {
    bySha.set(sha1(src), name);
    byPrefix.push([src.slice(0, 100), name]);
  };
  const tsDir = fileURLToPath(new URL('../../src/lua/', import.meta.url));
  for (const f of readdirSync(tsDir)) if (f.endsWith('.lua')) add(`task-swarm ${f.replace(/\.lua$/, '')}`, readFileSync(join(tsDir, f), 'utf8'));
  const require = createRequire(import.meta.url);
  try {
    const beeDir = join(dirname(require.resolve('bee-queue/package.json')), 'lib', 'lua');
    for (const f of readdirSync(beeDir)) if (f.endsWith('.lua')) add(`bee-queue ${f.replace(/\.lua$/, '')}`, readFileSync(join(beeDir, f), 'utf8'));
  } catch {
    /* not installed */
  }
  try {
    const bullDir = join(dirname(require.resolve('bullmq/package.json')), 'dist', 'esm', 'scripts');
    for (const f of readdirSync(bullDir)) {
      if (!/-\d+\.js$/.test(f)) continue;
      const mod = (await import(pathToFileURL(join(bullDir, f)).href)) as Record<string, { name?: string; content?: string }>;
      for (const v of Object.values(mod)) if (v && typeof v.content === 'string' && v.name) add(`bullmq ${v.name}`, v.content);
    }
  } catch {
    /* not installed */
  }
  return { bySha, byPrefix };
}

/** name of the command of one SLOWLOG entry's argv: `GET`, or `EVALSHA bullmq moveToFinished` */
export function commandName(argv: string[], idx: ScriptIndex): string {
  const cmd = (argv[0] ?? '?').toLowerCase();
  if (cmd === 'fcall' || cmd === 'fcall_ro') return `fcall task-swarm ${String(argv[1]).replace(/^ts_[0-9a-f]+_/, '').replace(/_/g, '-')}`;
  if (cmd === 'evalsha' || cmd === 'evalsha_ro') return `evalsha ${idx.bySha.get(argv[1] ?? '') ?? `script ${String(argv[1]).slice(0, 8)}`}`;
  if (cmd === 'eval' || cmd === 'eval_ro') {
    const body = argv[1] ?? '';
    const hit = idx.byPrefix.find(([p]) => body.startsWith(p.slice(0, Math.min(p.length, body.length, 100))));
    return `eval ${hit?.[1] ?? 'script'}`;
  }
  if (argv.length > 1 && ['client', 'config', 'script', 'slowlog', 'xinfo', 'object', 'cluster'].includes(cmd)) return `${cmd} ${String(argv[1]).toLowerCase()}`;
  return cmd;
}
