#!/usr/bin/env node
// The chartd command line: parses the command word and hands over to one command module.

import { packageVersion } from '../version.js';
import { UsageError } from './usage.js';

const USAGE = `chartd — state charts in YAML, served over HTTP

Usage:
  chartd serve [--chart FILE|DIR]... [--data DIR] [--port 5000] [--host 127.0.0.1]
               [--default-chart NAME] [--alert-webhook URL] [--backup-config FILE]
               [--auth FILE | --insecure-no-auth] [--values FILE] [--max-instances 1000000]
               [--log-level info]
               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
               [--ca-file FILE] [--client-cert FILE --client-key FILE]
  chartd validate FILE...
  chartd run CHART --set key=value... [--data DIR] [--id ID] [--timeout DURATION]
             [--quiet | --json]
  chartd diagram CHART [--format mermaid|dot|svg]
  chartd zone --storage DIR --port N --controller URL
              (--token-env NAME | --token-file FILE | --auth FILE)
              (--controller-token-env NAME | --controller-token-file FILE)
              [--name NAME] [--data DIR] [--host 127.0.0.1] [--gnupg-home DIR]
              [--values FILE] [--chart FILE] [--resend-max-delay 1m] [--log-level info]
              [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
              [--ca-file FILE] [--client-cert FILE --client-key FILE] [--auth FILE]
  chartd token new NAME [--scope read|write|write:CHARTS|admin|results]... [--caller PATTERN]...
  chartd token hash < TOKEN-FILE
  chartd --help | --version

Commands:
  serve      Serve charts over HTTP (StateService-compatible GET/PUT /state).
             --values FILE binds the operator's settings of each chart (hosts,
             storage roots, ...) and lists the environment variables steps may read.
  validate   Check chart files; prints every problem, exits 1 if there are any.
  run        Run one instance of a chart to a final state in this process: one
             line per node as it finishes, each failure as "Failure: <prefix>
             <node>: <message>", then what it wrote; exits with the number of
             failures (1 if the runner itself crashed). Each --set key goes to the
             chart's settings or context, whichever declares it. Ctrl-C, SIGTERM or
             --timeout stops the running step and runs the cleanup; a second
             signal stops at once and prints the command that finishes it.
             --quiet prints failures only (cron); --json one JSON document.
  diagram    Print a chart's diagram (happy paths green, unhappy paths red).
  zone       Run a backup zone: takes backup orders from the backup controller
             (serve --backup-config), runs charts/backup-and-encrypt.yaml for each,
             and reports every result to the controller until it is acknowledged.
             See docs/backup-controller.md.
  token      Make a bearer token for --auth FILE: prints the token once and the
             lines for the file (chartd keeps only its hash); 'hash' prints the
             hash of an existing token. See docs/security.md.

TLS (serve and zone; see docs/tls.md):
  --tls-cert FILE, --tls-key FILE   serve https with this certificate (chain) and key
  --tls-client-ca FILE              also require client certificates signed by this CA
  --ca-file FILE                    trust only these CAs for https:// peers chartd calls
                                    (webhook, job service, zones, controller)
  --client-cert FILE, --client-key FILE
                                    the certificate chartd shows to peers that ask for one
`;

type Command = (args: string[]) => Promise<number>;

// Loaded on demand: `chartd --version` should not pay for Koa, and `chartd run` not for the zone.
const COMMANDS: Record<string, () => Promise<Command>> = {
  serve: async () => (await import('./commands/serve.js')).serveCommand,
  validate: async () => (await import('./commands/validate.js')).validateCommand,
  run: async () => (await import('./commands/run.js')).runCommand,
  diagram: async () => (await import('./commands/diagram.js')).diagramCommand,
  zone: async () => (await import('./commands/zone.js')).zoneCommand,
  token: async () => (await import('./commands/token.js')).tokenCommand,
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
