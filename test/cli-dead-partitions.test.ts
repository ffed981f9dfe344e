/**
 * A swarm of several partitions lists each dead letter's key after its partition's number
 * (`1/17`, as Client.deadLetters gives it), and Client.retryDead and purgeDead take that key.
 * `retry-dead` and `purge-dead` refused it as no number ("a dead letter's key is a number, as
 * listed by `task-swarm dead`"), the very form `dead` listed: no letter of such a swarm could be
 * retried or purged from the command line. Each takes it now; a key of no partition, or written
 * loosely, is still refused in one line.
 */
import { describe, expect, it } from 'vitest';
import { Client, Worker } from '../src/index.js';
import { expectOneLine, runMain } from './helpers/cli.js';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

redisPerFile((s) => {
  server = s;
});

describe('dead letters of a swarm of several partitions', () => {
  it('retry-dead and purge-dead take the keys dead lists, <partition>/<key>', async () => {
    const prefix = '{deadparts}:';
    const options = { ...server.options(), keyPrefix: prefix, partitions: 2 };
    const run = (...argv: string[]) => runMain([...argv, '--key-prefix', prefix, '--partitions', '2'], { REDIS_URL: server.url });
    const client = new Client({ redis: options });
    // a worker that takes nothing over 200 bytes parks each big task, in its own partition
    const small = new Worker({ port: 0, redis: options, logger: quiet, maxPayloadBytes: 200 });
    small.addTaskFunction('echo', (t) => t.data);
    await small.start();
    let big: Worker | undefined;
    try {
      const ids = ['a', 'b', 'c', 'd'];
      for (const id of ids) expect((await run('submit', 'echo', JSON.stringify('x'.repeat(500)), '--id', id)).code).toBe(0);
      await until(async () => (await client.stats()).dead === ids.length, 'the big tasks to be parked');

      const listed = JSON.parse((await run('dead', '--json')).stdout) as { key: string; id: string }[];
      expect(listed.map((l) => l.key).every((k) => /^[01]\/\d+$/.test(k)), JSON.stringify(listed)).toBe(true);
      const [first, second] = listed;

      // fixed: a worker that takes them
      await small.stop();
      big = new Worker({ port: 0, redis: options, logger: quiet });
      big.addTaskFunction('echo', (t) => t.data);
      await big.start();
      expect(await run('retry-dead', first!.key)).toMatchObject({ code: 0, stdout: `requeued dead letter ${first!.key} (task ${first!.id}, was too_large)\n`, stderr: '' });
      expect(await client.wait(first!.id, { timeout: 5000 })).toMatchObject({ outcome: 'succeeded' });
      expect(await run('purge-dead', second!.key)).toMatchObject({ code: 0, stdout: `purged dead letter ${second!.key} (task ${second!.id}, was too_large)\n`, stderr: '' });
      expect((await client.deadLetters()).map((l) => l.key).sort()).toEqual(listed.slice(2).map((l) => l.key).sort());

      // gone: nothing retried, exit 1, as for any key no letter has
      expectOneLine(await run('retry-dead', first!.key), 1, new RegExp(`^task-swarm: no dead letter with key ${first!.key.replace('/', '\\/')} \\(retried, purged or dropped already`));
      // a partition the swarm has not, a key without its partition: refused, one line, exit 2
      expectOneLine(await run('retry-dead', '7/1'), 2, /^task-swarm: dead letter key "7\/1" names no partition of this swarm \(it has 2/);
      expectOneLine(await run('purge-dead', '1'), 2, /^task-swarm: dead letter key "1" names no partition of this swarm \(it has 2/);
      // written loosely, as any number, it is refused before Redis is asked
      for (const key of ['1/01', '01/1', '1/', '/1', '1/2/3', '1/-2', ' 1/2']) {
        expectOneLine(await run('purge-dead', key), 2, new RegExp(`^task-swarm: purge-dead: a dead letter's key is a number, as listed by \`task-swarm dead\`; got ${JSON.stringify(key).replace(/[/]/g, '\\/')}$`, 'm'));
      }
    } finally {
      await small.stop();
      await big?.stop();
      await client.close();
    }
  }, 30_000);
});
