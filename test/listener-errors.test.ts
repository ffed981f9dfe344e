/**
 * Found in the review of issue 7 (class: nothing read from Redis or the network may end a process). A control
 * event reaches `task.on(name, handler)`; a handler that throws is caught and logged. An async
 * handler that rejects (the same mistake, one keyword apart) is not: its rejection is unhandled,
 * and Node ends the worker process, with every task it runs. Anyone who can PUBLISH on the
 * task's control channel can send the payload that makes it reject. The test failed before the fix.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Redis } from 'ioredis';
import { until, type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';
import { keysFor } from './properties/harness.js';

let server: RedisServer;
let redis: Redis;
redisPerFile((s, r) => {
  server = s;
  redis = r;
});

const INDEX = fileURLToPath(new URL('../src/index.ts', import.meta.url));

describe('a control event whose async listener rejects', () => {
  it('is logged; the worker process and its other tasks live on', { timeout: 30_000 }, async () => {
    const o = server.options();
    const keys = keysFor(o.keyPrefix);
    const dir = mkdtempSync(join(tmpdir(), 'review-'));
    const script = join(dir, 'worker.mts');
    writeFileSync(
      script,
      `import { Worker } from ${JSON.stringify(INDEX)};
const w = new Worker({ port: 0, redis: ${JSON.stringify(o)}, logger: { debug() {}, info() {}, warn: (m: unknown) => process.stdout.write('WARN ' + String(m) + '\\n'), error() {} } });
w.addTaskFunction('hold', (t) => {
  t.on('pause', async (p: any) => { await Promise.resolve(); if (p.ms < 0) throw new Error('bad'); });
  return new Promise((r) => t.signal.addEventListener('abort', () => r('aborted')));
});
await w.start();
process.stdout.write('READY\\n');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
        child.on('exit', () => reject(new Error(`worker exited before READY: ${stderr}`)));
      });
      for (const id of ['h1', 'h2']) await redis.lpush(keys.newQueue, JSON.stringify({ id, function: 'hold' }));
      const state = (id: string) => redis.hget(keys.task(id), 'state');
      await until(async () => (await state('h1')) === 'RUNNING' && (await state('h2')) === 'RUNNING', 'both running');
      await redis.publish(keys.control('h1'), JSON.stringify({ event_name: 'pause', event: { ms: -1 } }));
      await new Promise((r) => setTimeout(r, 1500));
      // what the review saw: exited 1 (an unhandled rejection), h1 RUNNING for a dead worker
      expect({ exited, stderr: stderr.split('\n').find((l) => /Error/.test(l)) }).toEqual({ exited: undefined, stderr: undefined });
      // logged once, as a warning naming the task and the event
      expect(stdout.split('\n').filter((l) => l.startsWith('WARN '))).toEqual(['WARN task "h1": listener for "pause" threw']);
      // both tasks still run, and the other one still takes a control message: it ends when stopped
      expect([await state('h1'), await state('h2')]).toEqual(['RUNNING', 'RUNNING']);
      await redis.publish(keys.control('h2'), 'stop');
      await until(async () => (await redis.hget(keys.task('h2'), 'outcome')) === 'stopped', 'h2 ended stopped');
      expect(await state('h1')).toBe('RUNNING');
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("an async listener of a monitor's sweep, schedules or state event that rejects", () => {
  // (a listener that threw was caught; one that rejected, the same mistake one keyword apart,
  // was an unhandled rejection: Node ended the monitor process)
  it('is logged; the monitor process lives on and sweeps again', { timeout: 30_000 }, async () => {
    const o = server.options();
    const dir = mkdtempSync(join(tmpdir(), 'monitor-listener-'));
    const script = join(dir, 'monitor.mts');
    writeFileSync(
      script,
      `import { Client, Monitor } from ${JSON.stringify(INDEX)};
const c = new Client({ redis: ${JSON.stringify(o)} });
await c.schedule('often', { every: 100 }, 'nobody-runs-this');
await c.close();
const m = new Monitor({ redis: ${JSON.stringify(o)}, taskTimeout: 400, checkTaskInterval: 100, logger: { debug() {}, info() {}, warn: (m: unknown) => process.stdout.write('WARN ' + String(m) + '\\n'), error() {} } });
let sweeps = 0;
m.on('sweep', async () => { sweeps++; throw new Error('sweep listener rejects'); });
m.on('schedules', async () => { throw new Error('schedules listener rejects'); });
m.on('state', async () => { throw new Error('state listener rejects'); });
await m.start();
setInterval(() => process.stdout.write('SWEEPS ' + sweeps + '\\n'), 200);
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let exited: number | null | undefined;
    child.on('exit', (code) => (exited = code));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    let stdout = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    const sweeps = () => Math.max(0, ...[...stdout.matchAll(/SWEEPS (\d+)/g)].map((m) => Number(m[1])));
    try {
      await until(() => sweeps() >= 3 || exited !== undefined, 'three sweeps, or the process gone', 20_000);
      expect({ exited, stderr: stderr.split('\n').find((l) => /Error/.test(l)) }).toEqual({ exited: undefined, stderr: undefined });
      const warned = new Set(stdout.split('\n').filter((l) => l.startsWith('WARN a listener')));
      expect([...warned].sort()).toEqual(["WARN a listener of the monitor's state event threw", 'WARN a listener of the schedules event threw', 'WARN a listener of the sweep event threw']);
    } finally {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
