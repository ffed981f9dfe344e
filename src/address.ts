/**
 * Peer addresses, `host:port`: the one parser for every address a node reads (members of
 * `workers`) or is configured with (`advertise`, `host`). Members of `workers` are written by
 * anything that can reach Redis, so parsing is total: it returns a reason, never throws.
 */
import { BlockList, isIP, isIPv4, isIPv6 } from 'node:net';

export interface PeerAddress {
  host: string;
  port: number;
}

export type ParsedAddress = ({ ok: true } & PeerAddress) | { ok: false; reason: string };

/** the longest DNS name (RFC 1035) */
const MAX_HOST = 253;
/** `[` + host + `]:` + 5 digits, with room to spare; anything longer is junk, whatever it holds */
const MAX_ADDRESS = MAX_HOST + 10;

const LABEL = '[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?';
const HOSTNAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*\\.?$`);

/** Why `host` cannot be a peer's host (an IPv4 or IPv6 address, or a DNS name), or undefined if it can. */
export function hostProblem(host: string): string | undefined {
  if (host === '') return 'empty host';
  if (host.length > MAX_HOST) return `host longer than ${MAX_HOST} characters`;
  if (isIP(host)) return undefined;
  if (host.includes(':')) return `${JSON.stringify(host)} is not an IPv6 address`;
  // All digits and dots is an IPv4 address or nothing: such a name would go to DNS and fail there.
  if (/^[\d.]+$/.test(host)) return `${JSON.stringify(host)} is not an IPv4 address`;
  if (!HOSTNAME.test(host)) return 'host is neither an IP address nor a host name';
  return undefined;
}

function parsePort(text: string): number | string {
  if (!/^[1-9]\d{0,4}$/.test(text)) return text === '' ? 'no port' : `port ${JSON.stringify(text)} is not a number 1-65535`;
  const port = Number(text);
  return port <= 65535 ? port : `port ${port} is over 65535`;
}

/**
 * A peer's address: `host:port`, `[ipv6]:port`, and (unless `strict`) the bare `ipv6:port` that older versions
 * wrote for an IPv6 host: that form is read as the last colon before the port, and accepted
 * only when what precedes it is a whole IPv6 address.
 */
export function parseAddress(text: unknown, { strict = false }: { strict?: boolean } = {}): ParsedAddress {
  if (typeof text !== 'string') return { ok: false, reason: 'not a string' };
  if (text.length > MAX_ADDRESS) return { ok: false, reason: `longer than ${MAX_ADDRESS} characters` };
  let host: string;
  let portText: string;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/s.exec(text);
    if (!m) return { ok: false, reason: 'unclosed "[" or text after "]" that is not ":port"' };
    host = m[1]!;
    portText = m[2] ?? '';
    if (!isIPv6(host)) return { ok: false, reason: `${JSON.stringify(host)} in brackets is not an IPv6 address` };
  } else {
    const i = text.lastIndexOf(':');
    if (i < 0) return { ok: false, reason: 'no ":port"' };
    host = text.slice(0, i);
    portText = text.slice(i + 1);
    if (host.includes(':')) {
      if (strict) return { ok: false, reason: 'an IPv6 host goes in brackets: "[addr]:port"' };
      if (!isIPv6(host)) return { ok: false, reason: `${JSON.stringify(host)} is not an IPv6 address` };
    } else {
      const problem = hostProblem(host);
      if (problem) return { ok: false, reason: problem };
    }
  }
  // Connecting to "any address" reaches the prober's own host: a peer that answers is not this one.
  if (isUnspecified(host)) return { ok: false, reason: `${host} means "every interface", not an address a peer can reach` };
  const port = parsePort(portText);
  if (typeof port === 'string') return { ok: false, reason: port };
  return { ok: true, host, port };
}

/** `host:port`, with an IPv6 host in brackets (so the port is never ambiguous) */
export function formatAddress(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** `::ffff:10.0.0.1` (an IPv4 peer seen through a dual-stack socket) -> `10.0.0.1` */
export function normalizeHost(host: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  return m && isIPv4(m[1]!) ? m[1]! : host;
}

const unbracket = (host: string) => (host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host);

function inList(list: BlockList, host: string): boolean {
  const h = unbracket(host);
  const family = isIP(h);
  return family !== 0 && list.check(h, family === 4 ? 'ipv4' : 'ipv6');
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

const UNSPECIFIED = new BlockList();
UNSPECIFIED.addAddress('0.0.0.0', 'ipv4');
UNSPECIFIED.addAddress('::', 'ipv6');

/** an address only this host can reach: 127.0.0.0/8, ::1 (any spelling), localhost */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return h === 'localhost' || h.endsWith('.localhost') || inList(LOOPBACK, host);
}

/** the "any address" a server listens on to take every interface: 0.0.0.0, :: */
export function isUnspecified(host: string): boolean {
  return inList(UNSPECIFIED, host);
}
