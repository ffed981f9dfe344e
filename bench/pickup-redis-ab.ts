/**
 * Redis's own cost of an idle worker's pickup, two checkouts side by side on one redis-server:
 * each round, for each checkout in turn, after 5 ms of quiet, a submit of one task of the
 * seed's kind (submit.lua as Client.submit sends it), then, after 5 ms more, the claim an idle
 * worker's wait sends behind its block (claim.lua, four functions, a token, the receipts hash
 * marked as a running worker's is). Times from INFO commandstats (FCALL), medians. Each
 * checkout loads its own function library (their names hold a hash of their code), and the two
 * alternate round by round, so that the machine's drift, which on a shared machine moves a whole
 * pickup by half between runs, falls on both alike.
 *
 *   node --import tsx bench/pickup-redis-ab.ts <checkout A> <checkout B> [--rounds=300] [--port=P]
 *
 * Both checkouts must be built (dist/).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { drainRedis } from './lib/drain-redis.js';
import { runMain } from './lib/run-main.js';

const args = process.argv.slice(2);
const dirs = args.filter((a) => !a.startsWith('--'));
if (dirs.length !== 2) {
  console.error('usage: pickup-redis-ab.ts <checkout A> <checkout B> [--rounds=300] [--port=P]');
  process.exit(2);
}
const opt = new Map(args.filter((a) => a.startsWith('--')).map((a) => a.replace(/^--/, '').split('=') as [string, string]));
const rounds = Number(opt.get('rounds') ?? 300);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

interface Side {
  dir: string;
  prefix: string;
  submit: () => Promise<unknown>;
  claim: (token: string) => Promise<unknown>;
  us: { submit: number[]; claim: number[] };
}

async function side(dir: string, prefix: string, conn: import('ioredis').Redis): Promise<Side> {
  const at = (p: string) => import(pathToFileURL(join(resolve(dir), 'dist/src', p)).href);
  const queue = (await at('effects/queue.js')) as typeof import('../src/effects/queue.js');
  const { buildKeys } = (await at('keys.js')) as typeof import('../src/keys.js');
  const { buildSubmission } = (await at('submission.js')) as typeof import('../src/submission.js');
  const { runScript } = (await at('scripts.js')) as typeof import('../src/scripts.js');
  const keys = buildKeys({ keyPrefix: prefix, newQueue: 'new-task', taskSet: 'tasks', taskPrefix: 'task-', endQueue: 'end-task', workerSet: 'workers' });
  const worker = '127.0.0.1:7000';
  const functions = ['probe', 'other1', 'other2', 'other3'].map((name) => ({ name, room: 1 }));
  let n = 0;
  return {
    dir: resolve(dir),
    prefix,
    submit: () => queue.submitTasks(conn, keys, [buildSubmission('probe', n++, {}, 'submit', undefined, { now: Date.now() })], 'each'),
    claim: async (token) => {
      const request = { worker, max: 1, maxPayloadBytes: 1 << 20, functions, rotation: 0, token, acks: [], refreshReceipts: false };
      await runScript(conn, 'claim', queue.claimKeys(keys, request), queue.claimArgs(keys, request));
    },
    us: { submit: [], claim: [] },
  };
}

async function main() {
  const { admin, close } = await drainRedis(Number(opt.get('port') ?? 0), 'pickup-redis-ab');
  try {
    await admin.function('FLUSH');
    const sides = [await side(dirs[0]!, 'a:', admin), await side(dirs[1]!, 'b:', admin)];
    const fcallUs = async () => Number(/cmdstat_fcall:calls=\d+,usec=(\d+)/.exec(await admin.info('commandstats'))?.[1] ?? NaN);
    for (let r = 0; r < rounds + 10; r++) {
      for (const s of r % 2 ? sides : [...sides].reverse()) {
        // (an idle claim first, as the worker's last one found nothing: what claims knew of the
        // queue is forgotten, and the receipts hash is marked as a running worker's)
        await s.claim(`warm-${r}`);
        await sleep(5);
        await admin.config('RESETSTAT');
        await s.submit();
        const submit = await fcallUs();
        await sleep(5);
        await admin.config('RESETSTAT');
        await s.claim(`pickup-${r}`);
        const claim = await fcallUs();
        // (the first ten rounds warm up the connection and the libraries)
        if (r >= 10) {
          s.us.submit.push(submit);
          s.us.claim.push(claim);
        }
      }
    }
    for (const s of sides) console.log(JSON.stringify({ dir: s.dir, rounds, redisColdUs: { submit: median(s.us.submit), claim: median(s.us.claim), pickup: median(s.us.submit.map((x, i) => x + s.us.claim[i]!)) } }));
  } finally {
    close();
  }
}

runMain(main);
