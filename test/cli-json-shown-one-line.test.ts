/**
 * JSON shown on a line of the CLI (an event's data in `events` and `wait`, a result, the --json
 * output) holds no raw C1 control, DEL or line separator: JSON.stringify escapes C0 only, so a
 * task's progress data holding NEL (a line break to terminals and to Python's splitlines) broke
 * `events`' one line per event, and a CSI in it reached the terminal as an escape. Escaped, the
 * text is the same JSON value.
 */
import { describe, expect, it } from 'vitest';
import { eventLine, showJson } from '../src/cli/format.js';

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

describe('JSON on a CLI line', () => {
  const data = { file: 'a\u0085b', seq: '\u009b2J', del: 'x\u007f', sep: 'p\u2028q', key: { 'k\u0085': 1 } };

  it("an event's data stays on its line, escaped", () => {
    const line = eventLine('t-1', { event: 'progress', data, at: 0 });
    expect(line).not.toMatch(RAW);
    expect(line).toContain('a\\u0085b');
  });

  it('the JSON shown reads back as the same value, indented or not', () => {
    for (const text of [showJson(data), showJson(data, 2)]) {
      expect(text.replace(/\n/g, '')).not.toMatch(RAW);
      expect(JSON.parse(text)).toEqual(data);
    }
    expect(showJson(data, 2)).toContain('\n  "file"');
  });
});
