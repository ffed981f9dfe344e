/** `dashboard`: serve the dashboard page and its API (src/dashboard/) until SIGINT/SIGTERM. */
import { BlockList, isIPv6 } from 'node:net';
import { Option } from 'commander';
import { hostProblem, isUnspecified } from '../../address.js';
import { createDashboard } from '../../dashboard/server.js';
import { quote } from '../../quote.js';
import { within } from '../../within.js';
import type { CommandSpec } from '../command-spec.js';
import { UsageError, withListenFlag } from '../errors.js';
import { integerOption } from '../options.js';
import { checkRedis } from '../redis-session.js';
import { secretOf, secretOptions, type SecretFlags } from '../secrets.js';
import { runUntilSignal } from './components.js';

export const DASHBOARD_TOKEN: SecretFlags = {
  file: '--token-file',
  value: '--token',
  env: 'TASK_SWARM_DASHBOARD_TOKEN',
  what: 'the token the page must send for any action (stop, cancel, retry, purge)',
};

/** IPv4 addresses as an IPv6 socket has them (::ffff:a.b.c.d): --host ::ffff:0.0.0.0 takes IPv4 only */
const V4_MAPPED = new BlockList();
V4_MAPPED.addSubnet('::ffff:0:0', 96, 'ipv6');

/**
 * The URL a browser on this host opens: listening on every interface (--host 0.0.0.0 or ::), the
 * server's own address is "any", which no browser connects to; the loopback address of that
 * family is said instead, and that it listens on every interface, naming --host as typed
 * (`::0`, `0:0:0:0:0:0:0:0`: the server writes each as `::`). The family is the one the socket
 * takes: `::ffff:0.0.0.0` is IPv6 written, IPv4 taken (every IPv4 interface), where [::1] was
 * printed, which nothing answered. Read by hand, not by `new URL`: a link-local host's zone
 * (`[fe80::1%25eth0]`) is no WHATWG URL, and the dashboard stopped at once on "unexpected
 * error: Invalid URL".
 */
function openable(url: string, typed: string): string {
  const m = /^(http:\/\/)\[?([^\]]*?)\]?(:\d+\/)$/.exec(url);
  const host = m?.[2] ?? '';
  if (!m || !isUnspecified(host)) return url;
  const loopback = isIPv6(host) && !V4_MAPPED.check(host, 'ipv6') ? '[::1]' : '127.0.0.1';
  return `${m[1]}${loopback}${m[3]} (listening on every interface, as --host ${typed} asks: reachable from any network this host is on)`;
}

export const DASHBOARD_COMMANDS: CommandSpec[] = [
  {
    name: 'dashboard',
    summary: 'serve a web page of the swarm: workers, tasks, events, dead letters, the statecharts',
    details:
      'Binds 127.0.0.1 unless --host says otherwise. Reading needs nothing; every action needs the token ' +
      '(env TASK_SWARM_DASHBOARD_TOKEN or --token-file), typed into the page. Without a token, or with ' +
      '--read-only, the page takes no action. SIGINT/SIGTERM stop it.',
    options: [
      integerOption('--port <n>', 'the port to listen on (0: any free one)', 0, 65535).default(8080),
      new Option('--host <host>', 'the address to bind (anything but loopback exposes the swarm to that network)').default('127.0.0.1'),
      new Option('--read-only', 'refuse every action, token or not'),
      ...secretOptions(DASHBOARD_TOKEN),
    ],
    run: async (inv) => {
      const secret = secretOf(DASHBOARD_TOKEN, inv.opts, inv.source, inv.warn);
      const token = secret?.value;
      // (named where it came from: a short --token was said to come from the variable or the file)
      if (secret && secret.value.length < 8) throw new UsageError(`the dashboard token from ${secret.from} must be at least 8 characters, got ${secret.value.length}`);
      // (an empty --host, as "$DASHBOARD_HOST" unset gives, listened on every interface: refused as worker --host is)
      const host = inv.opts.host as string;
      const problem = hostProblem(host);
      if (problem) throw new UsageError(`--host must be an IP address or a host name, got ${quote(host)}: ${problem}`);
      const readOnly = inv.opts.readOnly === true;
      if (!readOnly && token === undefined) inv.warn(`no token (env ${DASHBOARD_TOKEN.env} or ${DASHBOARD_TOKEN.file}): the page is read-only`);
      // (as every command: a Redis not there is one line, not a page that answers 503 to each read)
      await checkRedis(inv.redis, (text) => inv.warn(text));
      const dashboard = createDashboard({ redis: inv.redis, token, readOnly });
      return runUntilSignal(
        inv.io,
        'dashboard',
        async () => {
          let url: string;
          try {
            url = await dashboard.listen(inv.opts.port as number, host);
          } catch (e) {
            // (its Redis connections and timers would keep an in-process caller running)
            await within(1000, dashboard.close());
            throw withListenFlag(e, { port: '--port', host: '--host' });
          }
          inv.io.stdout.write(`dashboard at ${openable(url, host)}${readOnly ? ' (read-only)' : ''}\n`);
        },
        () => dashboard.close(),
      );
    },
  },
];
