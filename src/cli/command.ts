// A chartd command on commander: its help shows every option with its default and an example, and every problem of
// a command line (unknown or valueless options, missing or bad values, operands) is reported at once, as usage errors.

import { Argument, Command, CommanderError, Option } from 'commander';
import { didYouMean } from '../chart/problem.js';
import { UsageError } from './usage.js';

/** How an option is read; the flags (`--port <N>`) say whether it takes a value. */
export interface OptionSpec<T> {
  /** Turns the text into the value the command uses; throws UsageError when the text will not do. */
  readonly read?: (text: string) => T;
  readonly choices?: readonly string[];
  readonly default?: T;
  /** How help shows a default that is computed (e.g. "this host's name"). */
  readonly defaultText?: string;
  readonly required?: boolean;
  /** Given as often as needed; the values come as a list. */
  readonly repeat?: boolean;
}

/** What a command does with its options and operands; its result is the exit code. */
export type Action<O> = (options: O, operands: string[]) => Promise<number> | number;

/** A check across options (e.g. two that exclude each other): throws UsageError. */
export type Check<O> = (options: O, operands: string[]) => void;

export class ChartdCommand extends Command {
  private readonly problems: string[] = [];
  private readonly requiredOptions: Option[] = [];
  private readonly requiredOperands = new Set<string>();
  private readonly checks: Check<never>[] = [];
  /** Options given without a value, or with one their reader refused: each is a problem already. */
  private readonly givenBadly = new Set<string>();
  private customUsage = false;
  /** An unknown option may have taken the word after it as its value: operands are then not counted as too many. */
  private unknownOptions = 0;

  constructor(name?: string) {
    super(name);
    // Operands are counted here, with everything else, rather than by commander one error at a time.
    this.allowExcessArguments(true);
    this.helpOption('-h, --help', 'show this help');
    this.exitOverride();
    this.configureOutput({ outputError: (text, write) => write(commanderMessage(text)) });
    this.configureHelp({
      commandDescription: (command) => unwrap(command.description()),
      subcommandTerm: (command) => (command instanceof ChartdCommand ? `${command.name()} ${command.usage()}` : command.name()),
    });
  }

  override createCommand(name?: string): ChartdCommand {
    return new ChartdCommand(name);
  }

  /** The usage line: as given, or built from the operands with the optional ones in brackets. */
  override usage(text: string): this;
  override usage(): string;
  override usage(text?: string): this | string {
    if (text !== undefined) {
      this.customUsage = true;
      return super.usage(text);
    }
    if (this.customUsage) return super.usage();
    const operands = this.registeredArguments.map((argument) => {
      const name = `${argument.name()}${argument.variadic ? '...' : ''}`;
      return this.requiredOperands.has(argument.name()) ? name : `[${name}]`;
    });
    return [...(this.options.length ? ['[options]'] : []), ...(this.commands.length ? ['[command]'] : []), ...operands].join(' ');
  }

  /** An option: flags as commander takes them (`--port <N>`, `--json`), read and checked with the rest of the line. */
  accept<T = string>(flags: string, description: string, spec: OptionSpec<T> = {}): this {
    // A default chartd works out itself (commander shows only values it is given) is told in the description.
    const computed = spec.default === undefined && spec.defaultText !== undefined ? `(default: ${spec.defaultText})` : undefined;
    const option = new Option(flags, [description, spec.required && '(required)', spec.repeat && '(repeatable)', computed].filter(Boolean).join(' '));
    const read = spec.choices ? oneOf(option, spec.choices) : spec.read;
    if (spec.choices) option.argChoices = [...spec.choices];
    if (spec.default !== undefined) option.default(spec.default, spec.defaultText ?? (typeof spec.default === 'string' ? spec.default : undefined));
    if (read || spec.repeat) {
      option.argParser((text: string, previous: unknown) => {
        const value = this.attempt(() => (read ? read(text) : text));
        if (value === undefined) this.givenBadly.add(option.attributeName());
        if (!spec.repeat) return value;
        // A default list is replaced by the first value given, not added to.
        const earlier = this.getOptionValueSource(option.attributeName()) === 'default' ? [] : (previous as unknown[] | undefined) ?? [];
        return value === undefined ? earlier : [...earlier, value];
      });
    }
    if (spec.required) this.requiredOptions.push(option);
    return this.addOption(option);
  }

  /** An operand (CHART, FILE...): `many` takes the rest of the line. */
  operand(name: string, description: string, spec: { required?: boolean; many?: boolean } = {}): this {
    // Declared optional to commander, which would stop at the first one missing; run() counts them.
    const argument = new Argument(`[${name}${spec.many ? '...' : ''}]`, description);
    if (spec.required !== false) this.requiredOperands.add(argument.name());
    return this.addArgument(argument);
  }

  /** Adds options several commands share (e.g. tlsOptions). */
  including(add: (command: ChartdCommand) => void): this {
    add(this);
    return this;
  }

  check<O>(check: Check<O>): this {
    this.checks.push(check as Check<never>);
    return this;
  }

  /** Examples, shown last in the command's help. */
  example(...lines: string[]): this {
    return this.addHelpText('after', `\nExample${lines.length > 1 ? 's' : ''}:\n${lines.map((line) => `  ${line}`).join('\n')}\n`);
  }

  /** The command's action, run once the whole command line is read; usage errors name every problem found. */
  run<O>(action: Action<O>): this {
    return this.action(async () => {
      const options = this.opts<O & Record<string, unknown>>();
      const operands = [...this.args];
      for (const option of this.requiredOptions) {
        if (options[option.attributeName()] === undefined && !this.givenBadly.has(option.attributeName())) this.problems.push(`${this.name()} needs ${describeOption(option)}`);
      }
      this.countOperands(operands);
      for (const check of this.checks) this.attempt(() => (check as Check<O>)(options, operands));
      if (this.problems.length) throw new UsageError(...this.problems);
      process.exitCode = await action(options, operands);
    });
  }

  /** Strips what commander would stop at (unknown options, options without their value), noting each as a problem. */
  override parseOptions(args: string[]): { operands: string[]; unknown: string[] } {
    return super.parseOptions(this.commands.length ? args : this.knownOptions(args));
  }

  private knownOptions(args: string[]): string[] {
    const kept: string[] = [];
    for (let index = 0; index < args.length; index += 1) {
      const arg = args[index]!;
      if (arg === '--') {
        kept.push(...args.slice(index));
        break;
      }
      if (!arg.startsWith('-') || arg === '-' || arg === '-h' || arg === '--help') {
        kept.push(arg);
        continue;
      }
      const equals = arg.startsWith('--') ? arg.indexOf('=') : -1;
      const flag = equals === -1 ? arg : arg.slice(0, equals);
      const option = this.options.find((each) => each.long === flag || each.short === flag);
      if (!option) {
        const flags = this.options.flatMap((each) => (each.long ? [each.long] : []));
        this.problems.push(`unknown option ${flag}${didYouMean(flag, [...flags, '--help'])}`);
        this.unknownOptions += 1;
      } else if (!option.required && !option.optional) {
        if (equals === -1) kept.push(arg);
        else this.problems.push(`${flag} takes no value`);
      } else if (equals !== -1) {
        kept.push(arg);
      } else if (index + 1 < args.length && !this.isOption(args[index + 1]!)) {
        kept.push(arg, args[(index += 1)]!);
      } else {
        this.problems.push(`${flag} needs a value: ${describeOption(option)}`);
        this.givenBadly.add(option.attributeName());
      }
    }
    return kept;
  }

  /** Whether `arg` is one of this command's flags: then the option before it was given no value. */
  private isOption(arg: string): boolean {
    const flag = arg.startsWith('--') && arg.includes('=') ? arg.slice(0, arg.indexOf('=')) : arg;
    return this.options.some((option) => option.long === flag || option.short === flag);
  }

  private countOperands(operands: readonly string[]): void {
    const declared = this.registeredArguments;
    const missing = declared.filter((argument, index) => this.requiredOperands.has(argument.name()) && operands[index] === undefined);
    for (const argument of missing) this.problems.push(`${this.name()} needs ${describeOperand(argument)}`);
    if (!declared.at(-1)?.variadic && operands.length > declared.length && !this.unknownOptions) {
      const extra = operands.slice(declared.length).join(' ');
      this.problems.push(declared.length ? `${this.name()} takes ${declared.map((argument) => argument.name()).join(' ')} and no more (got also: ${extra})` : `${this.name()} takes no operands (got: ${extra})`);
    }
  }

  private attempt<T>(read: () => T): T | undefined {
    try {
      return read();
    } catch (error) {
      if (!(error instanceof UsageError)) throw error;
      this.problems.push(...error.problems);
      return undefined;
    }
  }
}

/**
 * Whether commander stopped for help or the version (exit 0), for a command line without a command (exit 2, after the
 * help), or for a mistake (exit 2; it printed the message, and the hint to the help should follow).
 */
export function commanderExit(error: unknown): { code: number; hint: boolean } | undefined {
  if (!(error instanceof CommanderError)) return undefined;
  if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return { code: 0, hint: false };
  // `chartd help` asked for it (0); `chartd` alone or `chartd help NOPE` got it instead of a command (1).
  if (error.code === 'commander.help') return { code: error.exitCode === 0 ? 0 : 2, hint: false };
  return { code: 2, hint: true };
}

function oneOf(option: Option, choices: readonly string[]): (text: string) => string {
  return (text) => {
    if (!choices.includes(text)) throw new UsageError(`${option.long} ${text} is not one of ${choices.join(', ')}${didYouMean(text, choices)}`);
    return text;
  };
}

/** `--storage DIR: where backups are made and kept`, from `--storage <DIR>`. */
function describeOption(option: Option): string {
  const value = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return `${option.long}${value ? ` ${value}` : ''}: ${option.description.replace(/ \((required|repeatable|default: [^)]*)\)/g, '')}`;
}

function describeOperand(argument: Argument): string {
  return `${argument.name()}${argument.variadic ? '...' : ''}: ${argument.description}`;
}

/** Joins the lines of each paragraph, so help wraps them to the terminal; indented lines stay as written. */
function unwrap(text: string): string {
  return text.replace(/([^\n])\n(?=[^\s])/g, '$1 ');
}

/** commander's own messages ("error: unknown command 'srve'\n(Did you mean serve?)") in chartd's form. */
function commanderMessage(text: string): string {
  const message = text.replace(/^error: /, '').replace(/\n\(Did you mean (.+)\?\)/, " (did you mean '$1'?)").trimEnd();
  return `chartd: ${message}\n`;
}
