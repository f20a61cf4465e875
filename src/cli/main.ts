#!/usr/bin/env node
// The chartd command line: parses the command word and hands over to one command module.

import { packageVersion } from '../version.js';
import { UsageError } from './usage.js';

const USAGE = `chartd — state charts in YAML, served over HTTP

Usage:
  chartd serve [--chart FILE|DIR]... [--data DIR] [--port 5000] [--host 127.0.0.1]
               [--default-chart NAME] [--alert-webhook URL] [--backup-config FILE]
               [--auth FILE | --insecure-no-auth] [--values FILE] [--max-instances 1000000]
               [--log-level info] [--no-metrics]
               [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
               [--ca-file FILE] [--client-cert FILE --client-key FILE]
  chartd validate FILE...
  chartd run CHART --set key=value... [--data DIR] [--id ID] [--timeout DURATION]
             [--quiet | --json]
  chartd diagram CHART [--format mermaid|dot|svg]
  chartd schema [--dialect both|chartd|stateservice] [--tests]
  chartd test [FILE|DIR]... [--json]
  chartd simulate CHART [--set key=value]... [--put STATE [--by CALLER]]... [--event NAME]...
                  [--advance DURATION]... [--fail NODE[=MESSAGE]]... [--start TIME] [--json]
  chartd diff OLD NEW [--server URL [--token-file FILE] [--ca-file FILE] | --data DIR] [--json]
  chartd zone --storage DIR --port N --controller URL
              (--token-env NAME | --token-file FILE | --auth FILE)
              (--controller-token-env NAME | --controller-token-file FILE)
              [--name NAME] [--data DIR] [--host 127.0.0.1] [--gnupg-home DIR]
              [--values FILE] [--chart FILE] [--resend-max-delay 1m] [--log-level info] [--no-metrics]
              [--tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
              [--ca-file FILE] [--client-cert FILE --client-key FILE] [--auth FILE]
  chartd token new NAME [--scope read|write|write:CHARTS|admin|results]... [--caller PATTERN]...
  chartd token hash < TOKEN-FILE
  chartd --help | --version

Commands:
  serve      Serve charts over HTTP (StateService-compatible GET/PUT/POST /state).
             --values FILE binds the operator's settings of each chart (hosts,
             storage roots, ...) and lists the environment variables steps may read.
  validate   Check chart files; prints every problem, warning and note, and
             exits 1 if there are problems.
  run        Run one instance of a chart to a final state in this process: one
             line per node as it finishes, each failure as "Failure: <prefix>
             <node>: <message>", then what it wrote; exits with the number of
             failures (1 if the runner itself crashed). Each --set key goes to the
             chart's settings or context, whichever declares it. Ctrl-C, SIGTERM or
             --timeout stops the running step and runs the cleanup; a second
             signal stops at once and prints the command that finishes it.
             --quiet prints failures only (cron); --json one JSON document.
  diagram    Print a chart's diagram (happy paths green, unhappy paths red).
  schema     Print the JSON Schema editors complete and check chart files with.
  test       Run chart tests (NAME.test.yaml beside NAME.yaml) on a simulated
             clock; exits with the number of failed scenarios.
  simulate   Show the path a chart takes, transition by transition, for the
             actions given in order (steps succeed unless --fail names them).
  diff       List what changed between two versions of a chart and, with --server
             or --data, the stored instances in states that changed or went away.
             ('chartd COMMAND --help' for each; see docs/authoring.md.)
  zone       Run a backup zone: takes backup orders from the backup controller
             (serve --backup-config), runs charts/backup-and-encrypt.yaml for each,
             and reports every result to the controller until it is acknowledged.
             See docs/backup-controller.md.
  token      Make a bearer token for --auth FILE: prints the token once and the
             lines for the file (chartd keeps only its hash); 'hash' prints the
             hash of an existing token. See docs/security.md.

Metrics (serve and zone; see docs/operations.md):
  GET /metrics answers in Prometheus' text format, with the read scope; --no-metrics
  turns it off, and the counting behind it.

TLS (serve and zone; see docs/tls.md):
  --tls-cert FILE, --tls-key FILE   serve https with this certificate (chain) and key
  --tls-client-ca FILE              also require client certificates signed by this CA
  --ca-file FILE                    trust only these CAs for https:// peers chartd calls
                                    (webhook, job service, zones, controller)
  --client-cert FILE, --client-key FILE
                                    the certificate chartd shows to peers that ask for one
`;

type Command = (args: string[]) => Promise<number>;
/** A command, and the help it prints for --help (the usage above when it has none of its own). */
interface CommandModule {
  readonly command: Command;
  readonly help?: string;
}

// Loaded on demand: `chartd --version` should not pay for Koa, and `chartd run` not for the zone.
const COMMANDS: Record<string, () => Promise<CommandModule>> = {
  serve: async () => ({ command: (await import('./commands/serve.js')).serveCommand }),
  validate: async () => ({ command: (await import('./commands/validate.js')).validateCommand }),
  run: async () => ({ command: (await import('./commands/run.js')).runCommand }),
  diagram: async () => ({ command: (await import('./commands/diagram.js')).diagramCommand }),
  zone: async () => ({ command: (await import('./commands/zone.js')).zoneCommand }),
  token: async () => ({ command: (await import('./commands/token.js')).tokenCommand }),
  schema: () => import('./commands/schema.js'),
  test: () => import('./commands/test.js'),
  simulate: () => import('./commands/simulate.js'),
  diff: () => import('./commands/diff.js'),
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
  const { command, help } = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(help ?? USAGE);
    return 0;
  }
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
