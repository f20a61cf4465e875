// `chartd zone`: run a built-in backup zone until SIGINT/SIGTERM.

import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { parseDuration } from '../../chart/duration.js';
import type { TokenSource } from '../../backup/secret.js';
import { createLogger, type LogLevel } from '../../log.js';
import { startZoneServer } from '../../servers.js';
import { parse, portNumber, UsageError } from '../usage.js';
import { onStopSignals, signalExitCode } from '../signals.js';
import { TLS_OPTIONS, tlsConfig } from '../tlsOptions.js';

export async function zoneCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    storage: { type: 'string' },
    port: { type: 'string' },
    controller: { type: 'string' },
    'token-env': { type: 'string' },
    'token-file': { type: 'string' },
    'controller-token-env': { type: 'string' },
    'controller-token-file': { type: 'string' },
    name: { type: 'string', default: hostname() },
    data: { type: 'string', default: './zone-data' },
    host: { type: 'string', default: '127.0.0.1' },
    'gnupg-home': { type: 'string' },
    values: { type: 'string' },
    chart: { type: 'string' },
    'resend-max-delay': { type: 'string', default: '1m' },
    'log-level': { type: 'string', default: 'info' },
    'no-metrics': { type: 'boolean', default: false },
    auth: { type: 'string' },
    ...TLS_OPTIONS,
  }, false);
  if (!values.storage) throw new UsageError('zone needs --storage DIR, where backups are made and kept');
  if (values.port === undefined) throw new UsageError('zone needs --port N');
  if (!values.controller || !/^https?:\/\//.test(values.controller)) throw new UsageError('zone needs --controller URL, the backup controller results go to (http://HOST:PORT)');
  let resendMaxDelayMs: number;
  try {
    resendMaxDelayMs = parseDuration(values['resend-max-delay']);
  } catch (error) {
    throw new UsageError(`--resend-max-delay: ${(error as Error).message}`);
  }
  const log = createLogger(values['log-level'] as LogLevel);
  const zone = await startZoneServer({
    name: values.name,
    storageRoot: resolve(values.storage),
    dataDir: values.data,
    port: portNumber(values.port),
    host: values.host,
    controllerUrl: values.controller,
    ...(values.auth !== undefined && values['token-env'] === undefined && values['token-file'] === undefined
      ? {}
      : { token: tokenSource(values['token-env'], values['token-file'], '--token-env NAME or --token-file FILE (the token the controller presents with orders), or --auth FILE') }),
    ...(values.auth !== undefined ? { authFile: values.auth } : {}),
    controllerToken: tokenSource(values['controller-token-env'], values['controller-token-file'], '--controller-token-env NAME or --controller-token-file FILE (the token sent with results)'),
    ...(values['gnupg-home'] ? { gnupgHome: resolve(values['gnupg-home']) } : {}),
    ...(values.values ? { valuesFile: values.values } : {}),
    ...(values.chart ? { chartFile: values.chart } : {}),
    resendMaxDelayMs,
    metrics: !values['no-metrics'],
    ...tlsConfig(values),
    log,
  });
  process.stdout.write(`chartd zone ${values.name} listening on ${zone.url}\n`);
  // Running backups are interrupted and clean up before the zone stops; a second signal stops it at once.
  await new Promise<void>((resolve) => onStopSignals((signal) => {
    log.info({ signal }, 'shutting down: running backups clean up first; send the signal again to stop at once');
    resolve();
  }, (signal) => {
    log.warn({ signal }, 'stopping at once: interrupted backups finish their cleanup when the zone starts again');
    log.flush();
    process.exit(signalExitCode(signal));
  }));
  await zone.close();
  log.flush();
  return 0;
}

function tokenSource(env: string | undefined, file: string | undefined, what: string): TokenSource {
  if ((env === undefined) === (file === undefined)) throw new UsageError(`zone needs exactly one of ${what}`);
  return env !== undefined ? { env } : { file: resolve(file!) };
}
