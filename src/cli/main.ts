#!/usr/bin/env node
// The chartd command line: parses the command word and hands over to one command module.

import { packageVersion } from '../version.js';
import { UsageError } from './usage.js';

const USAGE = `chartd — state charts in YAML, served over HTTP

Usage:
  chartd serve [--chart FILE|DIR]... [--data DIR] [--port 5000] [--host 127.0.0.1]
               [--default-chart NAME] [--alert-webhook URL] [--backup-config FILE]
               [--max-instances 1000000] [--log-level info]
  chartd validate FILE...
  chartd run CHART --set key=value... [--data DIR] [--id ID] [--timeout DURATION]
  chartd diagram CHART [--format mermaid|dot|svg]
  chartd zone --storage DIR --port N --controller URL
              (--token-env NAME | --token-file FILE)
              (--controller-token-env NAME | --controller-token-file FILE)
              [--name NAME] [--data DIR] [--host 127.0.0.1] [--gnupg-home DIR]
              [--chart FILE] [--resend-max-delay 1m] [--log-level info]
  chartd --help | --version

Commands:
  serve      Serve charts over HTTP (StateService-compatible GET/PUT /state).
  validate   Check chart files; prints every problem, exits 1 if there are any.
  run        Run one instance of a chart to a final state in this process; prints
             each failure as "Failure: <prefix> <node>: <message>" and exits with
             the number of failures (1 if the runner itself crashed).
  diagram    Print a chart's diagram (happy paths green, unhappy paths red).
  zone       Run a backup zone: takes backup orders from the backup controller
             (serve --backup-config), runs charts/backup-and-encrypt.yaml for each,
             and reports every result to the controller until it is acknowledged.
             See docs/backup-controller.md.
`;

type Command = (args: string[]) => Promise<number>;

// Loaded on demand: `chartd --version` should not pay for Koa, and `chartd run` not for the zone.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  diagram: async () => (await import('./commands/diagram.js')).diagramCommand,
  zone: async () => (await import('./commands/zone.js')).zoneCommand,
};

async function main(argv: string[]): Promise<number> {
  const [word, ...rest] = argv;
  if (word === undefined || word === '--help' || word === '-h' || word === 'help') {
    process.stdout.write(USAGE);
    return word === undefined ? 2 : 0;
  }
  if (word === '--version' || word === '-v') {
    process.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  const load = COMMANDS[word];
  if (!load) {
    process.stderr.write(`chartd: unknown command '${word}'\n\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(USAGE);
    return 0;
  }
  const command = await load();
  return command(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof UsageError) {
      process.stderr.write(`chartd: ${error.message}\nRun 'chartd --help' for usage.\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`chartd: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);
