/**
 * A task function that leaves a timer calling `task.update()` after it returned, nobody awaiting
 * the call (a user's `setInterval` without its `clearInterval`): the late update is refused, and
 * that refusal must not end the user's process as an unhandled rejection, killing its other tasks
 * (left RUNNING until a monitor requeued them). The worker says it once, as it does a late emit.
 * Run as a user runs it: a process of its own, with Node's default for an unhandled rejection.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Client } from '../src/index.js';
import { type RedisServer } from './helpers/redis-server.js';
import { redisPerFile } from './helpers/suite.js';

let server: RedisServer;
const cleanup = redisPerFile((s) => {
  server = s;
});
const ROOT = fileURLToPath(new URL('..', import.meta.url));

const SCRIPT = (redis: unknown) => `
import { Worker } from ${JSON.stringify(join(ROOT, 'src/index.ts'))};
const w = new Worker({ redis: ${JSON.stringify(redis)}, port: 0, logger: { debug() {}, info() {}, warn: (m) => console.log('WARN ' + m), error: (m) => console.log('ERROR ' + m) } });
w.addTaskFunction('leaves-a-timer', async (task) => {
  setInterval(() => task.update({ alive: true }), 50);
  return 'returned';
});
w.addTaskFunction('slow', async () => {
  await new Promise((r) => setTimeout(r, 1500));
  return 'slow done';
});
await w.start();
console.log('STARTED');
`;

describe('a task.update() left running after its function returned', () => {
  it('is refused without ending the process: its other task ends, and it is said once', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'late-update-'));
    cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'worker.mts');
    const o = server.options();
    writeFileSync(file, SCRIPT(o));
    const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let exited: number | null | undefined;
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => (out += b.toString()));
    child.on('exit', (code) => (exited = code));
    cleanup.push(async () => void child.kill('SIGKILL'));
    const deadline = Date.now() + 20_000;
    while (!out.includes('STARTED') && exited === undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(out).toContain('STARTED');

    const client = new Client({ redis: o });
    cleanup.push(() => client.close());
    const slow = await client.submit('slow');
    const leaving = await client.submit('leaves-a-timer');
    expect(await client.wait(leaving, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'returned' });
    expect(await client.wait(slow, { timeout: 10_000 })).toMatchObject({ outcome: 'succeeded', result: 'slow done' });
    // (the timer keeps calling: 20 more late updates)
    await new Promise((r) => setTimeout(r, 1000));
    expect(exited, out).toBeUndefined();
    const told = out.split('\n').filter((l) => l.includes('update() came after its function returned'));
    expect(told).toEqual([`WARN task ${JSON.stringify(leaving)}: update() came after its function returned and the task ended here; refused with a LeaseLostError (later late calls of this run without a word)`]);
  });
});
