#!/usr/bin/env node
// The chartd command line: the one list of commands, each built by its module in commands/ (see README.md here).

import { Command } from 'commander';
import { packageVersion } from '../version.js';
import { ChartdCommand, commanderExit } from './command.js';
import { UsageError } from './usage.js';

interface CommandEntry {
  /** The line `chartd --help` lists it with. */
  readonly summary: string;
  /** Its module, loaded only when it runs or shows its help: `chartd --version` pays for no Koa, `chartd run` for no zone. */
  readonly load: () => Promise<{ command: () => ChartdCommand }>;
}

const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  init: { summary: 'Write example charts, their tests and commented operator files to start from', load: () => import('./commands/init.js') },
  serve: { summary: 'Serve charts over HTTP (StateService-compatible GET/PUT/POST /state)', load: () => import('./commands/serve.js') },
  validate: { summary: 'Check chart files: every problem, warning and note', load: () => import('./commands/validate.js') },
  run: { summary: 'Run one instance of a chart to a final state in this process; exit code = failures', load: () => import('./commands/run.js') },
  diagram: { summary: "Print a chart's diagram (Mermaid, DOT or SVG)", load: () => import('./commands/diagram.js') },
  schema: { summary: 'Print the JSON Schema editors check chart files with', load: () => import('./commands/schema.js') },
  test: { summary: 'Run chart tests (NAME.test.yaml) on a simulated clock', load: () => import('./commands/test.js') },
  simulate: { summary: 'Show the path a chart takes for the actions given', load: () => import('./commands/simulate.js') },
  diff: { summary: 'List what a new version of a chart changes, and the instances it strands', load: () => import('./commands/diff.js') },
  apply: { summary: 'Send a chart to a running chartd, which checks it and serves it at once', load: () => import('./commands/apply.js') },
  charts: { summary: 'List the charts a running chartd serves, where each comes from, and their instances', load: () => import('./commands/charts.js') },
  zone: { summary: 'Run a backup zone for the backup controller', load: () => import('./commands/zone.js') },
  store: { summary: 'Copy every document between a data directory and PostgreSQL, or compare two stores', load: () => import('./commands/store.js') },
  token: { summary: 'Make a bearer token for --auth FILE, or hash one', load: () => import('./commands/token.js') },
};

/** The program with every command listed, and the one named in `argv` built in full. */
async function buildProgram(argv: readonly string[]): Promise<ChartdCommand> {
  const named = argv[0] === 'help' ? argv[1] : argv[0];
  const program = new ChartdCommand('chartd')
    .description('State charts in YAML, served over HTTP.')
    .usage('<command> [options]')
    .version(packageVersion(), '-v, --version', 'print the version')
    .helpCommand('help [command]', "show a command's help")
    .enablePositionalOptions()
    .addHelpText('after', "\nRun 'chartd <command> --help' for a command's options, defaults and an example; docs/ has the rest.\n");
  for (const [name, entry] of Object.entries(COMMANDS)) {
    const command = name === named ? (await entry.load()).command() : new Command(name);
    program.addCommand(command.summary(entry.summary));
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const hint = `Run 'chartd ${argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? `${argv[0]} ` : ''}--help' for usage.\n`;
  try {
    process.exitCode = 0;
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
    return Number(process.exitCode);
  } catch (error) {
    const exit = commanderExit(error);
    if (exit !== undefined) {
      // commander has printed its message, or the help.
      if (exit.hint) process.stderr.write(hint);
      return exit.code;
    }
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.problems.map((problem) => `chartd: ${problem}\n`).join('')}${hint}`);
    return 2;
  }
}

// `chartd schema | head` closes the pipe early: what is left unwritten is not wanted.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(process.exitCode ?? 0);
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`chartd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
