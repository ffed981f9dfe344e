/**
 * A task's progress on stderr while a command waits for it (`wait`, `submit --wait`, `events`).
 * On a terminal it is one line, redrawn in place at each `progress` event, with a bar when the
 * progress says how far it is (`{pct}`, `{percent}` out of 100, or `{done, total}`); other lines
 * print above it. Elsewhere (a log, a pipe) each update is a line of its own, as every event is.
 */
import type { CliOutput } from './io.js';
import { clockTime, escapeControls, isObject, showJson } from './format.js';

const CLEAR_LINE = '\r\x1b[2K';
const BAR_WIDTH = 20;

/** whether an event is a progress report */
export const isProgress = (ev: unknown) => isObject(ev) && ev.event === 'progress';

/** how far, from 0 to 1, when the progress data says so */
export function fraction(data: unknown): number | undefined {
  if (!isObject(data)) return undefined;
  const pct = data.pct ?? data.percent;
  if (typeof pct === 'number' && pct >= 0 && pct <= 100) return pct / 100;
  const done = data.done ?? data.current;
  const total = data.total;
  if (typeof done === 'number' && typeof total === 'number' && total > 0 && done >= 0 && done <= total) return done / total;
  return undefined;
}

/** `12:00:01.234 <id> progress [#####...............]  25% {"pct":25}` */
export function progressLine(id: string, ev: Record<string, unknown>): string {
  const f = fraction(ev.data);
  const bar = f === undefined ? '' : `[${'#'.repeat(Math.round(f * BAR_WIDTH)).padEnd(BAR_WIDTH, '.')}] ${String(Math.floor(f * 100)).padStart(3)}% `;
  return `${clockTime(ev.at)} ${escapeControls(id)} progress ${bar}${showJson(ev.data)}`;
}

/** the columns a code point takes on a terminal: 2 for the wide (CJK, Hangul, fullwidth forms, most emoji), else 1 */
function columnsOf(cp: number): number {
  const wide =
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd);
  return wide ? 2 : 1;
}

/**
 * `text` cut to at most `max` terminal columns, whole characters only. (Cut by UTF-16 units, a
 * line of wide characters, an id in Japanese say, took twice the columns counted and wrapped, and
 * each redraw then stacked a line; and an emoji could be cut in half, a lone surrogate written.)
 */
export function fitColumns(text: string, max: number): string {
  let used = 0;
  let out = '';
  for (const ch of text) {
    used += columnsOf(ch.codePointAt(0)!);
    if (used > max) break;
    out += ch;
  }
  return out;
}

export class ProgressDisplay {
  /** the progress line drawn on the terminal now, without its end of line */
  private drawn = '';

  constructor(
    private readonly out: CliOutput,
    private readonly id: string,
  ) {}

  /** a progress event: a line of its own, or the terminal's line redrawn */
  update(ev: unknown, asLine: () => string): void {
    if (this.out.isTTY !== true || !isObject(ev)) return this.line(asLine());
    // a line longer than the terminal would wrap, and \r would then redraw only its last part
    this.drawn = fitColumns(progressLine(this.id, ev), Math.max(20, (this.out.columns ?? 80) - 1));
    this.out.write(CLEAR_LINE + this.drawn);
  }

  /** a whole line of text, above the progress line */
  line(text: string): void {
    this.out.write(this.drawn ? `${CLEAR_LINE}${text}\n${this.drawn}` : `${text}\n`);
  }

  /** `write` to another stream on the same terminal, with the progress line out of its way */
  around(write: () => void): void {
    if (!this.drawn) return write();
    this.out.write(CLEAR_LINE);
    write();
    this.out.write(this.drawn);
  }

  /** the wait is over: the last progress stays on the screen, on a line of its own */
  end(): void {
    if (this.drawn) this.out.write('\n');
    this.drawn = '';
  }
}
