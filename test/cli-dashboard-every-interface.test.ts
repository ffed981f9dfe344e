/**
 * `task-swarm dashboard --host 0.0.0.0` (or `::`) printed `dashboard at http://0.0.0.0:<port>/`:
 * the server's own address, "any", which a browser cannot open. It prints the loopback URL of
 * that family, which opens the page, and says it listens on every interface. Its other
 * spellings too: ::0 and 0:0:0:0:0:0:0:0 named as typed, and ::ffff:0.0.0.0, which takes IPv4
 * only, with the IPv4 loopback URL (http://[::1]:<port>/ was printed, which nothing answered).
 */
import { spawn } from 'node:child_process';
import { get } from 'node:http';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from './helpers/cli.js';
import { startRedis, type RedisServer } from './helpers/redis-server.js';

let server: RedisServer;
beforeAll(async () => {
  server = await startRedis();
});
afterAll(async () => {
  await server.stop();
});

type Page = { status: number; body: string };

/** the page at the URL printed, opened as a browser would */
async function fetchPage(url: string): Promise<Page> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

/** the dashboard as a process: its first stdout line, then it is stopped (SIGTERM) */
async function firstLine(host: string, prefix: string, open: (url: string) => Promise<Page> = fetchPage): Promise<{ line: string; page: Page }> {
  const env: NodeJS.ProcessEnv = { ...process.env, REDIS_URL: server.url };
  delete env.TASK_SWARM_DASHBOARD_TOKEN;
  const proc = spawn(process.execPath, ['--import', 'tsx', CLI, 'dashboard', '--host', host, '--port', '0', '--read-only', '--key-prefix', prefix], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  try {
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no line within 15 s; stderr: ${stderr}`)), 15_000);
      proc.stdout.on('data', (b: Buffer) => {
        out += b.toString();
        const i = out.indexOf('\n');
        if (i >= 0) {
          clearTimeout(timer);
          resolve(out.slice(0, i));
        }
      });
      void exited.then((code) => reject(new Error(`exited ${code}; stderr: ${stderr}`)));
    });
    // the URL printed, opened as a browser would
    const url = /^dashboard at (\S+)/.exec(line)?.[1] ?? '';
    return { line, page: await open(url) };
  } finally {
    proc.kill('SIGTERM');
    await exited;
  }
}

describe('dashboard --host on every interface', () => {
  it.each([
    ['0.0.0.0', /^dashboard at http:\/\/127\.0\.0\.1:\d+\/ \(listening on every interface, as --host 0\.0\.0\.0 asks: reachable from any network this host is on\) \(read-only\)$/],
    ['::', /^dashboard at http:\/\/\[::1\]:\d+\/ \(listening on every interface, as --host :: asks: reachable from any network this host is on\) \(read-only\)$/],
  ])('--host %s prints a URL a browser opens, and says it listens on every interface', async (host, said) => {
    const { line, page } = await firstLine(host, `dash-any${host.length}:`);
    expect(line).toMatch(said);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<html/i);
  }, 30_000);

  // (::ffff:0.0.0.0 is IPv6 written and IPv4 taken: [::1] was printed, which nothing answers;
  // ::0 and the long form were named "::", the server's spelling, not what was typed)
  it.each([
    ['::ffff:0.0.0.0', 'http://127.0.0.1:', 'dash-any-mapped:'],
    ['::0', 'http://[::1]:', 'dash-any-zero:'],
    ['0:0:0:0:0:0:0:0', 'http://[::1]:', 'dash-any-long:'],
  ])('--host %s, another spelling of every interface: a URL that opens, and --host named as typed', async (host, url, prefix) => {
    const { line, page } = await firstLine(host, prefix);
    expect(line.startsWith(`dashboard at ${url}`), line).toBe(true);
    expect(line).toMatch(/^dashboard at \S+ \(listening on every interface, as --host (\S+) asks: reachable from any network this host is on\) \(read-only\)$/);
    expect(line).toContain(`as --host ${host} asks`);
    expect(page.status).toBe(200);
    expect(page.body).toMatch(/<html/i);
  }, 30_000);

  it('a loopback --host is printed as it was', async () => {
    const { line, page } = await firstLine('127.0.0.1', 'dash-loop:');
    expect(line).toMatch(/^dashboard at http:\/\/127\.0\.0\.1:\d+\/ \(read-only\)$/);
    expect(page.status).toBe(200);
  }, 30_000);

  // (the Host names a loopback dashboard answered were localhost, 127.0.0.1 and [::1]: the URL it
  // printed for another loopback address was answered 403, its host not one of them)
  it.each([
    ['127.0.0.2', 'http://127.0.0.2:', 'dash-loop2:'],
    ['::ffff:127.0.0.1', 'http://[::ffff:127.0.0.1]:', 'dash-loop-mapped:'],
  ])('a loopback --host %s other than 127.0.0.1: the URL printed opens the page', async (host, url, prefix) => {
    const { line, page } = await firstLine(host, prefix);
    expect(line.startsWith(`dashboard at ${url}`), line).toBe(true);
    expect(page).toMatchObject({ status: 200, body: expect.stringMatching(/<html/i) as unknown });
  }, 30_000);

  // (a link-local address, its zone after a %: the URL printed is no WHATWG URL, and reading it
  // with new URL threw, "task-swarm: unexpected error: Invalid URL", the dashboard stopped)
  const linkLocal = Object.entries(networkInterfaces()).flatMap(([name, list]) => (list ?? []).filter((a) => a.family === 'IPv6' && !a.internal && /^fe80:/i.test(a.address)).map((a) => ({ address: a.address, zone: name })))[0];
  it.skipIf(!linkLocal)('a link-local --host with its zone: listens, and prints its URL with the zone as a URL writes it (%25)', async () => {
    const { address, zone } = linkLocal!;
    // (opened as curl opens it: the address and its zone; a browser takes no zone)
    const open = (url: string) =>
      new Promise<Page>((resolve, reject) => {
        const port = Number(/\]:(\d+)\/$/.exec(url)?.[1]);
        get({ host: `${address}%${zone}`, port, path: '/' }, (res) => {
          let body = '';
          res.on('data', (b: Buffer) => (body += b.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        }).on('error', reject);
      });
    const { line, page } = await firstLine(`${address}%${zone}`, 'dash-link-local:', open);
    const escaped = (t: string) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    expect(line).toMatch(new RegExp(`^dashboard at http://\\[${escaped(address)}%25${escaped(zone)}\\]:\\d+/ \\(read-only\\)$`));
    expect(page.status).toBe(200);
  }, 30_000);
});
