/**
 * Redis's MONITOR, read off a socket of its own: `onCommand` gets each command Redis runs, its
 * arguments as strings. Not ioredis's `monitor()`: its connection turns to monitor mode only
 * once the reply to MONITOR has been handled, so a command Redis ran right after it, whose line
 * came in the same read, found no call waiting for it and threw "Command queue state error"
 * from the socket's data handler (an uncaught exception that failed the test it happened in,
 * about one run in ten when the watch began while a worker was busy).
 */
import net from 'node:net';

export interface MonitorWatch {
  stop(): void;
}

const ESCAPED: Record<string, number> = { n: 10, r: 13, t: 9, a: 7, b: 8 };

/**
 * one line of MONITOR, `+<time> [<db> <client>] "arg" "arg" ...`: its arguments, as Redis quotes
 * them (sdscatrepr: `\"`, `\\`, `\n` and the like, and `\xNN` for every other byte outside
 * printable ASCII), read back into their bytes and those as UTF-8
 */
export function monitorArgs(line: string): string[] {
  const args: string[] = [];
  const quoted = /"((?:[^"\\]|\\x[0-9a-fA-F]{2}|\\.)*)"/g;
  for (let m = quoted.exec(line); m; m = quoted.exec(line)) {
    const text = m[1]!;
    const bytes: number[] = [];
    for (let i = 0; i < text.length; i++) {
      if (text[i] !== '\\') bytes.push(text.charCodeAt(i));
      else if (text[i + 1] === 'x') {
        bytes.push(parseInt(text.slice(i + 2, i + 4), 16));
        i += 3;
      } else bytes.push(ESCAPED[text[++i]!] ?? text.charCodeAt(i));
    }
    args.push(Buffer.from(bytes).toString('utf8'));
  }
  return args;
}

/** resolves once Redis has answered MONITOR: every command it runs from then on is seen */
export function monitorRedis(o: { host: string; port: number }, onCommand: (args: string[]) => void): Promise<MonitorWatch> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(o.port, o.host);
    let buffered = '';
    let started = false;
    socket.setEncoding('latin1');
    socket.once('error', reject);
    socket.on('connect', () => socket.write('MONITOR\r\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let end = buffered.indexOf('\r\n'); end >= 0; end = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        if (!started) {
          if (line !== '+OK') return reject(new Error(`MONITOR refused: ${line}`));
          started = true;
          socket.off('error', reject);
          socket.on('error', () => {});
          resolve({ stop: () => socket.destroy() });
          continue;
        }
        onCommand(monitorArgs(line));
      }
    });
  });
}
