/**
 * Commander fitted to this CLI: a Command that reads `.env()` variables from the environment
 * `main` was given (commander reads process.env; a test runs main in-process with its own), and
 * turns commander's parse errors into the CLI's one-line UsageErrors, naming the command, the
 * argument or the flag as the user wrote it.
 */
import type { EventEmitter } from 'node:events';
import { Command, type CommanderError, type Option } from 'commander';
import { UsageError } from './errors.js';
import { escapeControls, quote } from './format.js';
import { PROG } from './io.js';

export type Environment = Record<string, string | undefined>;

export class CliCommand extends Command {
  /** what a missing argument is called in the error, by position ("function name") */
  readonly nouns: string[] = [];

  constructor(
    readonly environment: Environment,
    name?: string,
  ) {
    super(name);
    this.ownExitOverride();
  }

  override createCommand(name?: string): CliCommand {
    return new CliCommand(this.environment, name);
  }

  /** (a subcommand inherits its parent's exit callback, which would name the parent) */
  override copyInheritedSettings(source: Command): this {
    super.copyInheritedSettings(source);
    return this.ownExitOverride();
  }

  private ownExitOverride(): this {
    return this.exitOverride((err) => {
      throw this.usageError(err);
    });
  }

  /**
   * An argument, with the noun its absence is reported by; `parse` reads it. A required one
   * given empty ('') is missing too.
   */
  positional(syntax: string, noun: string, doc: string, parse?: (raw: string) => unknown): this {
    const index = this.nouns.push(noun) - 1;
    const argument = this.createArgument(syntax, doc);
    argument.argParser((raw: string) => {
      if (argument.required && raw === '') throw new UsageError(`${this.name()}: missing ${this.nouns[index]} (usage: ${this.usageLine()})`);
      return parse ? parse(raw) : raw;
    });
    return this.addArgument(argument);
  }

  /** `task-swarm submit [options] <function> [json-data]`, for messages */
  usageLine(): string {
    return `${PROG}${this.parent ? ` ${this.name()}` : ''} ${this.usage()}`;
  }

  /**
   * Replaces commander's method of the same name (it runs after the command line is parsed, so
   * a typed flag wins): the same priority rule, but the variables are `environment`'s, and one
   * set empty counts as unset (`REDIS_PASSWORD= cmd` clears it for cmd). A value refused is
   * named with its variable, which the user set, not the flag, which they did not.
   */
  _parseOptionsEnv(): void {
    for (const option of this.options) {
      const variable = option.envVar;
      const value = variable === undefined ? undefined : this.environment[variable];
      if (value === undefined || value === '') continue;
      const key = option.attributeName();
      const source = this.getOptionValueSource(key);
      if (this.getOptionValue(key) !== undefined && !['default', 'config', 'env'].includes(source ?? '')) continue;
      try {
        (this as unknown as EventEmitter).emit(`optionEnv:${option.name()}`, option.required || option.optional ? value : undefined);
      } catch (e) {
        throw e instanceof UsageError ? new UsageError(`env ${variable}: ${e.message}`) : e;
      }
    }
  }

  /**
   * commander's parse error as the CLI's one line (help and --version pass through: status 0).
   * The flag of an unknown option or of one without its value is read from commander 14's
   * message (the version is pinned); a message not understood is shown as commander's.
   */
  private usageError(err: CommanderError): Error {
    const m = (re: RegExp) => re.exec(err.message);
    switch (err.code) {
      case 'commander.helpDisplayed':
      case 'commander.version':
        return err;
      case 'commander.unknownOption': {
        const found = m(/^error: unknown option '(.*)'(?:\n\(Did you mean (.*)\?\))?$/s);
        return new UsageError(this.unknownOptionMessage(found?.[1] ?? '?', found?.[2]));
      }
      case 'commander.optionMissingArgument': {
        const flag = m(/option '(?:-\w, )?(-[^ ']+)/)?.[1] ?? '?';
        return new UsageError(`option ${flag} needs a value`);
      }
      case 'commander.missingArgument': {
        const noun = this.nouns[this.args.length] ?? this.registeredArguments[this.args.length]?.name() ?? 'argument';
        return new UsageError(`${this.name()}: missing ${noun} (usage: ${this.usageLine()})`);
      }
      case 'commander.excessArguments': {
        const extra = this.args[this.registeredArguments.length] ?? '';
        return new UsageError(`${this.name()}: unexpected argument ${quote(extra)} (usage: ${this.usageLine()})`);
      }
      default:
        return new UsageError(escapeControls(err.message.replace(/^error: /, '')));
    }
  }

  private unknownOptionMessage(flag: string, suggestion: string | undefined): string {
    const eq = flag.indexOf('=');
    const name = eq > 0 ? flag.slice(0, eq) : flag;
    const shown = escapeControls(flag);
    const is = flagOf(name);
    const root = this.parent ?? this;
    const own = [...this.options, ...(this.parent?.options ?? [])].find(is);
    if (own && eq > 0 && own.isBoolean()) return `option ${escapeControls(name)} takes no value`;
    const owners = root.commands.filter((c) => c !== this && c.options.some(is)).map((c) => c.name());
    if (owners.length && this.parent) return `option ${escapeControls(name)} does not apply to "${this.name()}"; "${PROG} ${this.name()} --help" lists its options`;
    if (owners.length) return `option ${escapeControls(name)} belongs to a command (${owners.join(', ')}): give it after the command's name`;
    const help = `"${PROG}${this.parent ? ` ${this.name()}` : ''} --help" lists the options`;
    return `unknown option ${shown}${suggestion ? ` (did you mean ${suggestion}?)` : ''}; ${help}; a value starting with "-" goes after "--"`;
  }
}

/** the options a command line may give more than once, their values collected (src/cli/options.ts `repeatableOption`) */
export const REPEATABLE = new WeakSet<Option>();

/**
 * `submit --id a --id b`: commander keeps the last value of an option given twice, silently, so
 * the task would be queued under an id the user may not have meant. An option that takes a
 * value and is not repeatable is refused when given twice, naming the flag (its values are not
 * shown: one may be a password). A flag without a value (`--json`) given twice says nothing
 * twice, and passes.
 *
 * Judged by the options of the command being run, as commander reads the line: the program's
 * before the command's name, the program's and the command's after it. Anything else (an option
 * the command does not take, one of a command given before its name, a command that does not
 * exist) is left to commander's refusal, which says what is wrong: "given twice" said first,
 * the user gave it once, only to be told next that it did not apply.
 */
export function refuseRepeatedOptions(argv: readonly string[], root: Command): void {
  let command: Command | undefined;
  let options = root.options;
  const seen = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return;
    // (a negative number after the command's name is an operand to commander: `submit f -1`)
    if (arg.length < 2 || !arg.startsWith('-') || (command && NEGATIVE_NUMBER.test(arg))) {
      if (command) continue;
      command = root.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
      if (!command) return;
      options = [...root.options, ...command.options];
      continue;
    }
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    // (`-fa.js`: a short flag with its value attached, as commander takes it)
    const attached = !arg.startsWith('--') && arg.length > 2;
    const option = options.find(flagOf(eq > 0 ? arg.slice(0, eq) : attached ? arg.slice(0, 2) : arg));
    if (!option) return;
    if (!(option.required || option.optional)) continue;
    // (its value, the next word, is no flag: `--data --id` would be read so)
    if (eq < 0 && !attached && (option.required || !argv[i + 1]?.startsWith('-'))) i++;
    if (REPEATABLE.has(option)) continue;
    const flag = option.long ?? option.short ?? arg;
    if (seen.has(flag)) throw new UsageError(`option ${flag} given twice: give it once`);
    seen.add(flag);
  }
}

/** what commander reads as a number, not a flag, where a command's operands go (its own test) */
const NEGATIVE_NUMBER = /^-(\d+|\d*\.\d+)(e[+-]?\d+)?$/;

/** whether an option is the one a flag names (`--json`, `-f`) */
const flagOf = (flag: string) => (o: Option) => o.long === flag || o.short === flag;

/**
 * `--redis-url --json`: a flag that takes a value followed by something that looks like a flag
 * is a value forgotten far more often than a value that starts with "-" (commander would take
 * "--json" as the URL). Such a value goes as `--flag=-value`. A negative number is no flag
 * (none is named by digits): `--priority -5` is the value -5, as commander takes it, which
 * this refused as "needs a value", for a flag whose help says it takes -1000 to 1000.
 */
export function refuseFlagLikeValues(argv: readonly string[], root: Command): void {
  const options = [root, ...root.commands].flatMap((c) => c.options);
  for (let i = 0; i < argv.length - 1; i++) {
    const arg = argv[i]!;
    if (arg === '--') return;
    const option = options.find(flagOf(arg));
    if (!option || !(option.required || option.optional)) continue;
    const next = argv[++i]!;
    if (next.length > 1 && next.startsWith('-') && !NEGATIVE_NUMBER.test(next)) {
      throw new UsageError(`option ${arg} needs a value (one starting with "-" goes as ${arg.startsWith('--') ? `${arg}=-value` : `${arg}-value`})`);
    }
  }
}
