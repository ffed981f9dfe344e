/**
 * Real network partitions: a node runs in its own network namespace, linked to the host by a
 * veth pair with two 10.x addresses of its own; `cut()` takes the link down (packets vanish,
 * connections go silent, as in a real partition) and `heal()` brings it back. Needs root and
 * iproute2; `netnsAvailable()` tells a test to skip cleanly where they are missing.
 */
import { execFileSync, spawnSync } from 'node:child_process';

export function netnsAvailable(): boolean {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) return false;
  return spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status === 0;
}

export interface Netns {
  name: string;
  /** the host side's address: what processes in the namespace use to reach the host */
  hostIp: string;
  /** the namespace side's address */
  nsIp: string;
  /** command prefix that runs a program inside the namespace */
  exec: string[];
  cut(): void;
  heal(): void;
  destroy(): void;
}

let counter = 0;

/** Remove namespaces and links left by an earlier run that was killed before its cleanup. */
export function removeStale(): void {
  const list = (args: string[]) => spawnSync('ip', args, { encoding: 'utf8' }).stdout ?? '';
  for (const line of list(['netns', 'list']).split('\n')) {
    const name = line.split(' ')[0];
    if (name?.startsWith('tsw')) spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  }
  for (const line of list(['-o', 'link']).split('\n')) {
    const name = /^\d+: ([^:@]+)/.exec(line)?.[1];
    if (name?.startsWith('tsw')) spawnSync('ip', ['link', 'del', name], { stdio: 'ignore' });
  }
}

/** `slot` 1..250 picks the 10.231.<slot>.0/30 pair, so files running at once do not collide. */
export function createNetns(slot: number): Netns {
  const name = `tsw${process.pid % 10000}n${++counter}`;
  const host = `${name}h`;
  const inner = `${name}i`;
  const hostIp = `10.231.${slot}.1`;
  const nsIp = `10.231.${slot}.2`;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  ip('netns', 'add', name);
  ip('link', 'add', host, 'type', 'veth', 'peer', 'name', inner);
  ip('link', 'set', inner, 'netns', name);
  ip('addr', 'add', `${hostIp}/30`, 'dev', host);
  ip('link', 'set', host, 'up');
  ip('netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', inner);
  ip('netns', 'exec', name, 'ip', 'link', 'set', inner, 'up');
  ip('netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up');
  return {
    name,
    hostIp,
    nsIp,
    exec: ['ip', 'netns', 'exec', name],
    cut: () => ip('link', 'set', host, 'down'),
    heal: () => ip('link', 'set', host, 'up'),
    destroy: () => {
      spawnSync('ip', ['link', 'del', host], { stdio: 'ignore' });
      spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
    },
  };
}
