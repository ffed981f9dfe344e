/**
 * A connection's socket may report more than one error (a TLS handshake refused, then the
 * server's reset). ioredis hears each socket's first error only; every connection the library
 * makes hears the later ones too, so none of them ends the process, and the connection goes on
 * (or is made again) as after the first.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Cluster, Redis } from 'ioredis';
import { resolveRedisConfig } from '../src/config.js';
import { connect, connectionOwner } from '../src/redis.js';
import type { RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { deployCluster, removeCluster, type ClusterDeployment } from './helpers/deployments.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});

describe("a connection's socket errors", () => {
  for (const role of ['command', 'subscriber', 'blocking'] as const) {
    it(`a ${role} connection hears every error of its socket, not the first only, and still answers`, async () => {
      const r = connect(resolveRedisConfig(server.options()), role, connectionOwner()) as Redis;
      cleanup.push(async () => r.disconnect());
      await r.connect();
      const stream = (r as unknown as { stream: NodeJS.EventEmitter }).stream;
      expect(() => stream.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
      expect(() => stream.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
      expect(await r.ping()).toBe('PONG');
    });
  }

  describe('on a Cluster', () => {
    let dep: ClusterDeployment | undefined;
    let dir: string | undefined;
    afterAll(() => removeCluster(dep, dir));

    it("each node's connection hears every error of its socket, and the Cluster still answers", async () => {
      ({ dep, dir } = await deployCluster('task-swarm-stream-errors', { replicas: 0 }));
      const c = connect(resolveRedisConfig({ cluster: dep.seeds, keyPrefix: '{stream-errors}:' }), 'command', connectionOwner()) as Cluster;
      cleanup.push(async () => c.disconnect());
      await c.connect();
      expect(await c.ping()).toBe('PONG');
      const nodes = c.nodes('master');
      expect(nodes.length).toBe(3);
      for (const node of nodes) {
        const stream = (node as unknown as { stream: NodeJS.EventEmitter }).stream;
        expect(() => stream.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
        expect(() => stream.emit('error', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).not.toThrow();
      }
      expect(await c.set('{stream-errors}:k', 'v')).toBe('OK');
    }, 60_000);
  });
});
