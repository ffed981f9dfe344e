/**
 * The hint a json-data refusal ends with (a bare word meant as a string) shows the text it quotes
 * on the refusal's one line: JSON.stringify leaves DEL, the C1 controls (NEL, CSI) and the line
 * separators raw, which broke the line or moved a terminal's cursor; and a long text is not
 * written out whole a second time.
 */
import { describe, expect, it } from 'vitest';
import { parseJson } from '../src/cli/values.js';

function refusal(raw: string): string {
  try {
    parseJson('json-data', raw);
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error(`${JSON.stringify(raw)} was taken`);
}

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROLS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

describe('a json-data refusal with a hint', () => {
  it.each([
    ['NEL', 'hello\u0085rm -rf'],
    ['CSI', 'hello\u009b2J'],
    ['DEL', 'hello\u007f'],
    ['a line separator', 'hello\u2028world'],
  ])('holding %s stays on its line, the character escaped', (_, raw) => {
    const m = refusal(raw);
    expect(m).toMatch(/a string goes in JSON's double quotes/);
    expect(m).not.toMatch(RAW_CONTROLS);
  });

  it('a long text is shown once, cut, not again whole in the hint', () => {
    const raw = `word${'x'.repeat(5000)}`;
    const m = refusal(raw);
    expect(m).toMatch(/a string goes in JSON's double quotes/);
    expect(m.length).toBeLessThan(400);
  });

  it('the short case is as it was', () => {
    expect(refusal('hello')).toMatch(/: hello; a string goes in JSON's double quotes: '"hello"'$/);
  });
});
