// `chartd zone`: run a built-in backup zone until SIGINT/SIGTERM.

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import type { TokenSource } from '../../backup/secret.js';
import { startZoneServer } from '../../servers.js';
import { ChartdCommand } from '../command.js';
import { loggerOf, logOptions, type LogValues } from '../logOptions.js';
import { metricsOptions, type MetricsValues } from '../metricsOptions.js';
import { exitNow, onStopSignals } from '../signals.js';
import { tlsConfig, tlsOptions, type TlsValues } from '../tlsOptions.js';
import { duration, httpUrl, portNumber, UsageError } from '../usage.js';

interface ZoneOptions extends LogValues, MetricsValues, TlsValues {
  readonly storage: string;
  readonly port: number;
  readonly controller: string;
  readonly tokenEnv?: string;
  readonly tokenFile?: string;
  readonly auth?: string;
  readonly controllerTokenEnv?: string;
  readonly controllerTokenFile?: string;
  readonly name: string;
  readonly data: string;
  readonly host: string;
  readonly gnupgHome?: string;
  readonly values?: string;
  readonly chart?: string;
  readonly resendMaxDelay: number;
  readonly accessLog?: boolean;
}

const ORDER_TOKEN = '--token-env NAME or --token-file FILE (the token the controller presents with orders), or --auth FILE';
const RESULT_TOKEN = '--controller-token-env NAME or --controller-token-file FILE (the token sent with results)';

export function command(): ChartdCommand {
  return new ChartdCommand('zone')
    .description(`Runs a backup zone: takes backup orders from the backup controller (serve
--backup-config), runs charts/backup-and-encrypt.yaml for each, and reports every result
to the controller until it is acknowledged. Stopping it (SIGINT/SIGTERM) interrupts the
running backups, which clean up first; a second signal stops it at once.
See docs/backup-controller.md.`)
    .accept('--storage <DIR>', 'where backups are made and kept', { required: true })
    .accept('--port <N>', 'the port to listen on for orders (0: any free one)', { read: portNumber, required: true })
    .accept('--controller <URL>', 'the backup controller results go to', { read: httpUrl('--controller', 'the backup controller results go to'), required: true })
    .accept('--token-env <NAME>', 'the environment variable holding the token the controller presents with orders')
    .accept('--token-file <FILE>', 'the file holding the token the controller presents with orders')
    .accept('--auth <FILE>', 'tokens and scopes (e.g. a monitor\'s read token); may give the controller\'s token instead')
    .accept('--controller-token-env <NAME>', 'the environment variable holding the token sent with results')
    .accept('--controller-token-file <FILE>', 'the file holding the token sent with results')
    .accept('--name <NAME>', "the zone's name, in results and logs", { default: hostname(), defaultText: "this host's name" })
    .accept('--data <DIR>', "the zone's data directory", { default: './zone-data' })
    .accept('--host <ADDRESS>', 'the address to listen on', { default: '127.0.0.1' })
    .accept('--gnupg-home <DIR>', 'the GnuPG home holding the public keys backups are encrypted to')
    .accept('--values <FILE>', "the zone's settings and the environment variables orders may name")
    .accept('--chart <FILE>', 'the backup chart', { defaultText: "charts/backup-and-encrypt.yaml of chartd's package" })
    .accept('--resend-max-delay <DURATION>', 'the longest wait between attempts to deliver a result', { read: duration('--resend-max-delay'), default: 60_000, defaultText: '1m' })
    .including(logOptions('info', true))
    .including(metricsOptions)
    .including(tlsOptions)
    .check<ZoneOptions>((options) => {
      const problems = [
        options.auth === undefined || options.tokenEnv !== undefined || options.tokenFile !== undefined ? tokenProblem(options.tokenEnv, options.tokenFile, ORDER_TOKEN) : undefined,
        tokenProblem(options.controllerTokenEnv, options.controllerTokenFile, RESULT_TOKEN),
      ].filter((problem) => problem !== undefined);
      if (problems.length) throw new UsageError(...problems);
    })
    .example('CONTROLLER_TOKEN=… ZONE_TOKEN=… chartd zone --storage /srv/backups --port 7000 \\',
      '  --controller https://backups.example:5000 --token-env ZONE_TOKEN --controller-token-env CONTROLLER_TOKEN \\',
      '  --gnupg-home /etc/chartd/gnupg --values /etc/chartd/zone-values.yaml')
    .run(zone);
}

async function zone(options: ZoneOptions): Promise<number> {
  const log = loggerOf(options);
  // The zone serves one fixed chart: a SIGHUP (Node's default would end it, leaving its LOCK) changes nothing.
  const ignoreHangup = (): void => log.info({ signal: 'SIGHUP' }, 'chartd zone has nothing to reload; SIGHUP ignored');
  process.on('SIGHUP', ignoreHangup);
  const running = await startZoneServer({
    name: options.name,
    storageRoot: resolve(options.storage),
    dataDir: options.data,
    port: options.port,
    host: options.host,
    controllerUrl: options.controller,
    ...(options.auth !== undefined && options.tokenEnv === undefined && options.tokenFile === undefined
      ? {}
      : { token: tokenSource(options.tokenEnv, options.tokenFile) }),
    ...(options.auth !== undefined ? { authFile: options.auth } : {}),
    controllerToken: tokenSource(options.controllerTokenEnv, options.controllerTokenFile),
    ...(options.gnupgHome ? { gnupgHome: resolve(options.gnupgHome) } : {}),
    ...(options.values ? { valuesFile: options.values } : {}),
    ...(options.chart ? { chartFile: options.chart } : {}),
    resendMaxDelayMs: options.resendMaxDelay,
    accessLog: options.accessLog === true,
    metrics: options.metrics,
    ...tlsConfig(options),
    log,
  });
  process.stdout.write(`chartd zone ${options.name} listening on ${running.url}\n`);
  // Running backups are interrupted and clean up before the zone stops; a second signal stops it at once.
  await new Promise<void>((resolve) => onStopSignals((signal) => {
    log.info({ signal }, 'shutting down: running backups clean up first; send the signal again to stop at once');
    resolve();
  }, (signal) => exitNow(log, signal, 'stopping at once: interrupted backups finish their cleanup when the zone starts again')));
  await running.close();
  process.off('SIGHUP', ignoreHangup);
  log.flush();
  return 0;
}

function tokenProblem(env: string | undefined, file: string | undefined, what: string): string | undefined {
  return (env === undefined) === (file === undefined) ? `zone needs exactly one of ${what}` : undefined;
}

/** The checks above leave exactly one of the two. */
function tokenSource(env: string | undefined, file: string | undefined): TokenSource {
  return env !== undefined ? { env } : { file: resolve(file!) };
}
