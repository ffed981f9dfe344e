/**
 * The worker's FCALL writes its request as bytes itself (src/fcall-command.ts): what it writes
 * must be, byte for byte, what ioredis's own Command writes for the same arguments, and Redis
 * must run it as such (keys and arguments of every length class, empty ones, and text past
 * ASCII, which is written as ioredis writes it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Command, Redis } from 'ioredis';
import { FcallCommand } from '../src/fcall-command.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

const asBytes = (w: string | Buffer) => (typeof w === 'string' ? Buffer.from(w, 'utf8') : w);
const ioredisBytes = (args: string[]) => asBytes(new Command('fcall', args, { replyEncoding: 'utf8' }).toWritable({}));

const CASES: Record<string, string[]> = {
  'no keys, no arguments': ['f', '0'],
  'lengths of one to five digits': ['f', '2', 'k', 'x'.repeat(9), 'y'.repeat(10), 'z'.repeat(99), 'w'.repeat(100), 'v'.repeat(12_345)],
  'empty arguments': ['f', '1', '', '', 'a', ''],
  'text past ASCII': ['f', '1', 'tâche-é', 'ok', '日本語', '🐝'],
  'a control character and JSON': ['f', '0', 'a\r\nb', '{"id":"x","data":[1,2,3]}'],
  'many arguments': ['f', '3', ...Array.from({ length: 300 }, (_, i) => `arg-${i}`)],
};

describe('the worker FCALL command', () => {
  for (const [name, args] of Object.entries(CASES)) {
    it(`writes what ioredis writes: ${name}`, () => {
      expect(asBytes(new FcallCommand([...args]).toWritable({}))).toEqual(ioredisBytes([...args]));
    });
  }

  describe('against Redis', () => {
    let server: RedisServer;
    let redis: Redis;
    beforeAll(async () => {
      server = await startRedis();
      redis = new Redis({ port: server.port, host: '127.0.0.1' });
      await redis.function(
        'LOAD',
        'REPLACE',
        "#!lua name=fcall_command_test\nredis.register_function('echo_all', function(keys, args) local out = {} for _, k in ipairs(keys) do out[#out + 1] = k end for _, a in ipairs(args) do out[#out + 1] = a end return out end)",
      );
    });
    afterAll(async () => {
      redis?.disconnect();
      await server?.stop();
    });

    for (const [name, args] of Object.entries(CASES)) {
      it(`is run with its keys and arguments as given: ${name}`, async () => {
        const [, numkeys, ...rest] = args;
        const reply = await redis.sendCommand(new FcallCommand(['echo_all', numkeys!, ...rest]));
        expect(reply).toEqual(rest);
      });
    }
  });
});
