/**
 * Names a user or a queue entry chose (task ids above all), as a message or a log line shows
 * them: an id holding a quote or a line break must not end the message early or pass for
 * another line of a log (the CLI prints a message's first line).
 */

/**
 * Control characters (newlines above all) shown as escapes, so a value stays on its line: C0,
 * DEL, the C1 controls (U+0085 NEL is a line break to Python's splitlines and to terminals, U+009B
 * CSI starts a terminal's escape sequence: a schedule name holding one broke `task-swarm
 * schedules`' one line per schedule) and the Unicode line and paragraph separators.
 */
export function escapeControls(s: string): string {
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  return s.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const named: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return named[c] ?? unicodeEscape(c);
  });
}

/** one character as its `\\uXXXX` escape, as JSON and JavaScript read it */
export const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

/**
 * A string in double quotes, escaped like JSON: user input and Redis strings in messages (anything
 * else as JSON). Total: a refusal that names a caller's mistake must not throw a TypeError of its
 * own (JSON.stringify refuses a BigInt and a cycle, and writes NaN as null).
 */
export const quote = (s: unknown): string => escapeControls(shown(s));

function shown(s: unknown): string {
  if (typeof s === 'number') return String(s);
  if (typeof s === 'bigint') return `${s}n`;
  try {
    return JSON.stringify(s) ?? String(s);
  } catch {
    return `${typeof s === 'object' ? 'an object' : `a ${typeof s}`} JSON cannot write`;
  }
}
