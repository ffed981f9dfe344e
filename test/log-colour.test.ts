/**
 * The default logger colours its pretty lines only on a terminal: a log redirected to a file
 * (`task-swarm worker ... > w.log`) holds no escape codes. NO_COLOR and FORCE_COLOR decide first.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { colours } from '../src/logger.js';

const LOGGER = fileURLToPath(new URL('../src/logger.ts', import.meta.url));
const ESC = '\x1b[';

/** a process that logs one warning through the default logger, its stdout a pipe */
function logThroughPipe(env: Record<string, string>, body = `createLogger('w').warn('could not write its end');`): Promise<string> {
  const base: Record<string, string | undefined> = { ...process.env, TASK_SWARM_LOG: 'info', TASK_SWARM_LOG_FORMAT: 'pretty' };
  delete base.NO_COLOR;
  delete base.FORCE_COLOR;
  const script = `import { createLogger } from ${JSON.stringify(LOGGER)}; ${body}`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...base, ...env }, timeout: 20_000 }, (err, stdout, stderr) =>
      err ? reject(err) : resolve(stdout + stderr),
    );
  });
}

describe('log colours', () => {
  it('a log written to a pipe or a file has no escape codes', async () => {
    const out = await logThroughPipe({});
    expect(out).toMatch(/WARN.*could not write its end/);
    expect(out).not.toContain(ESC);
  });

  it('FORCE_COLOR colours it all the same; NO_COLOR wins', async () => {
    expect(await logThroughPipe({ FORCE_COLOR: '1' })).toContain(ESC);
    expect(await logThroughPipe({ FORCE_COLOR: '1', NO_COLOR: '1' })).not.toContain(ESC);
  });

  it('on a terminal: colours unless NO_COLOR or FORCE_COLOR=0 says otherwise', () => {
    expect(colours({}, true)).toBe(true);
    expect(colours({}, false)).toBe(false);
    expect(colours({ NO_COLOR: '1' }, true)).toBe(false);
    expect(colours({ NO_COLOR: '' }, true)).toBe(true);
    expect(colours({ FORCE_COLOR: '0' }, true)).toBe(false);
    expect(colours({ FORCE_COLOR: 'false' }, true)).toBe(false);
    expect(colours({ FORCE_COLOR: '1' }, false)).toBe(true);
  });
});

describe('the default logger\'s settings', () => {
  it('TASK_SWARM_LOG_FORMAT=json: one flat JSON object a line, the message under msg, an error as name, message and stack', async () => {
    const out = await logThroughPipe({ TASK_SWARM_LOG_FORMAT: 'json' }, `const l = createLogger('w'); l.info('started', { port: 1 }); l.warn('could not write its end', new Error('boom'));`);
    const lines = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { time: expect.any(String), level: 'INFO', name: 'w', msg: 'started', args: [{ port: 1 }] },
      { time: expect.any(String), level: 'WARN', name: 'w', msg: 'could not write its end', args: [{ name: 'Error', message: 'boom', stack: expect.arrayContaining([expect.stringMatching(/^at /)]) }] },
    ]);
  });

  it('a level or a format it does not know is said once, not ignored in silence', async () => {
    const out = await logThroughPipe({ TASK_SWARM_LOG: 'loud', TASK_SWARM_LOG_FORMAT: 'xml' }, `createLogger('w').info('one'); createLogger('m').info('two');`);
    expect(out.match(/TASK_SWARM_LOG="loud" is not one of .*: info is used/g)).toHaveLength(1);
    expect(out.match(/TASK_SWARM_LOG_FORMAT="xml" is neither json nor pretty: pretty is used/g)).toHaveLength(1);
    expect(out).toMatch(/one/);
    expect(out).toMatch(/two/);
  });
});
