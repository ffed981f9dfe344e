/**
 * Help text fitted to a width: the one place the CLI's help is wrapped (src/cli/program.ts
 * passes every part of it through `wrap`: the usage line, the description, each item of a list
 * of options, arguments or commands, the text after the lists).
 *
 * The width is `helpWidth`: the terminal's, when the help goes to one, all of it (a wide
 * terminal is the user's choice; man and commander do the same); 80 columns when it
 * goes anywhere else (a pipe, a file, `| less`), where no width is known.
 */
import type { CliOutput } from './io.js';

/** the width of help that goes to no terminal */
export const PIPE_WIDTH = 80;

/** the width help is wrapped at on `out`: its columns on a terminal, 80 elsewhere */
export function helpWidth(out: CliOutput): number {
  return out.isTTY && out.columns !== undefined && out.columns > 0 ? out.columns : PIPE_WIDTH;
}

/**
 * What is never broken: a run of anything but spaces, a `[...]` group taken whole (the usage
 * line's `[--tz zone]`, `[--partition n]`), and text in quotes that a word opens (`--cron
 * "0 3 * * *"`: broken, it reads as a cron of fewer fields; a quote within a word, as in
 * `workers'`, opens nothing).
 */
const UNIT = /(?:(?<!\S)(?:"[^"\n]*"|'[^'\n]*')|\[[^\]\n]*\]|\S)+/g;

/**
 * `text` with each of its lines broken at spaces into lines of at most `width` columns. The lines
 * a line is broken into start `hang` spaces in (by default as far in as that line starts), so
 * that they stand under its text, as a man page's option list does. A word is never split: one
 * wider than the room left (a URL, a long flag) stands whole on a line of its own, past the
 * width if it must. Spaces within a line are kept; those where it is broken go.
 */
export function wrap(text: string, width: number, hang?: number): string {
  return text
    .split('\n')
    .map((line) => wrapLine(line, width, hang ?? line.length - line.trimStart().length))
    .join('\n');
}

function wrapLine(line: string, width: number, hang: number): string {
  if (line.length <= width) return line;
  const lines: string[] = [];
  let current = '';
  let end = 0;
  for (const m of line.matchAll(UNIT)) {
    const gap = line.slice(end, m.index);
    end = m.index + m[0].length;
    // (the first unit keeps the line's own indentation before it)
    if (current === '' || current.length + gap.length + m[0].length <= width) {
      current += gap + m[0];
    } else {
      lines.push(current);
      current = ' '.repeat(hang) + m[0];
    }
  }
  lines.push(current);
  return lines.join('\n');
}
