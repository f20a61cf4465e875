// `chartd serve`: start the HTTP server, reload its charts on SIGHUP, and stop cleanly on SIGINT/SIGTERM.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { StartupError } from '../../main.js';
import { postgresSettingsFrom, readPostgresUrl, StoreUrlInvalid, type PostgresSettings } from '../../store/postgres/settings.js';
import { DEFAULT_MAX_INSTANCES } from '../../runtime/quota.js';
import { DEFAULT_REMOVALS_PER_SECOND } from '../../runtime/retention.js';
import { DEFAULT_LEASE_MS } from '../../runtime/runtime.js';
import { startServer } from '../../servers.js';
import { BUNDLED_CHARTS } from '../bundled.js';
import { ChartdCommand } from '../command.js';
import { loggerOf, logOptions, type LogValues } from '../logOptions.js';
import { metricsOptions, type MetricsValues } from '../metricsOptions.js';
import { serveSignals } from '../signals.js';
import { tlsConfig, tlsOptions, type TlsValues } from '../tlsOptions.js';
import { duration, portNumber, positiveInteger, UsageError } from '../usage.js';

interface ServeOptions extends LogValues, MetricsValues, TlsValues {
  readonly chart?: string[];
  readonly data?: string;
  readonly store?: PostgresSettings;
  readonly port: number;
  readonly host: string;
  readonly defaultChart?: string;
  readonly alertWebhook?: string;
  readonly backupConfig?: string;
  readonly values?: string;
  readonly maxInstances: number;
  readonly auth?: string;
  readonly insecureNoAuth?: boolean;
  readonly accessLog?: boolean;
  readonly retainFinished?: number;
  readonly retainFinishedRate: number;
  readonly lease?: number;
}

const DEFAULT_CHARTS = 'charts';
const DEFAULT_DATA = './data';
const MIN_LEASE_MS = 1000;

export function command(): ChartdCommand {
  return new ChartdCommand('serve')
    .description(`Serves charts over HTTP: StateService's GET/PUT/POST /state, chartd's own routes and the
dashboard at /ui/. Refuses to start if any chart has a problem (all are printed), takes a
lock on --data, resumes every instance stored there, and listens. With --store postgres://…
(or CHARTD_STORE) it keeps everything in that PostgreSQL database instead, with no data
directory, so any number of replicas can serve the same charts (docs/storage.md). Without
--auth it listens on loopback only. SIGHUP (or POST /charts/reload) reads the charts, --values and --auth
again: all of it is served, or nothing changes (docs/lifecycle.md). See README.md,
docs/security.md and docs/tls.md.`)
    .accept('--chart <FILE|DIR>', 'a chart file, or a directory of them (its *.test.yaml are left out)', { repeat: true, defaultText: `${DEFAULT_CHARTS}/ in the current directory` })
    .accept('--data <DIR>', 'the data directory: the store of instances, and its lock', { defaultText: DEFAULT_DATA })
    .accept('--store <URL>', 'keep everything in PostgreSQL, postgres://USER@HOST:PORT/DATABASE, shared by every replica given it (the password: PGPASSWORD or ~/.pgpass)', { read: storeUrl, defaultText: 'CHARTD_STORE, else the data directory' })
    .accept('--port <N>', 'the port to listen on (0: any free one)', { read: portNumber, default: 5000 })
    .accept('--host <ADDRESS>', 'the address to listen on', { default: '127.0.0.1' })
    .accept('--default-chart <NAME>', 'the chart bare /state answers for', { defaultText: 'the only chart served' })
    .accept('--values <FILE>', "the operator's settings of each chart and the environment variables steps may read")
    .accept('--auth <FILE>', 'tokens and their scopes (chartd token new makes them)')
    .accept('--insecure-no-auth', 'serve without tokens on a non-loopback --host (a warning is logged)')
    .accept('--alert-webhook <URL>', 'where failure alerts are POSTed, until each is delivered')
    .accept('--backup-config <FILE>', 'run the backup controller in this server (docs/backup-controller.md)')
    .accept('--max-instances <N>', 'the most instances one chart may have', { read: positiveInteger('--max-instances'), default: DEFAULT_MAX_INSTANCES })
    .accept('--retain-finished <DURATION>', 'remove finished (done or cancelled) instances once finished this long, e.g. 30d', { read: duration('--retain-finished'), defaultText: 'kept until deleted' })
    .accept('--retain-finished-rate <N>', 'the most finished instances --retain-finished removes a second', { read: positiveInteger('--retain-finished-rate'), default: DEFAULT_REMOVALS_PER_SECOND })
    .accept('--lease <DURATION>', "how long a claim on a step or deadline holds unrenewed (renewed every third of it): a replica killed or cut off from the store has its work taken over one to two leases later", { read: leaseDuration, defaultText: `${DEFAULT_LEASE_MS / 1000}s` })
    .including(logOptions('info', true))
    .including(metricsOptions)
    .including(tlsOptions)
    .check<ServeOptions>((options) => {
      if (options.auth !== undefined && options.insecureNoAuth) throw new UsageError('--auth and --insecure-no-auth contradict each other; give one');
      if (options.data !== undefined && options.store !== undefined) throw new UsageError('--store and --data exclude each other: the store is either PostgreSQL or the data directory; give one');
      if (options.data !== undefined && process.env['CHARTD_STORE']) throw new UsageError('--data and CHARTD_STORE exclude each other: the store is either the data directory or PostgreSQL; unset CHARTD_STORE or leave out --data');
    })
    .example(
      'chartd serve --chart charts --default-chart traffic-light',
      'chartd serve --chart /etc/chartd/charts --data /var/lib/chartd --host 0.0.0.0 --auth /etc/chartd/auth.yaml \\',
      '  --values /etc/chartd/values.yaml --tls-cert /etc/chartd/cert.pem --tls-key /etc/chartd/key.pem',
      'chartd serve --chart /etc/chartd/charts --retain-finished 30d --retain-finished-rate 500',
      'PGPASSWORD=… chartd serve --chart /etc/chartd/charts --store postgres://chartd@db.internal:5432/chartd --host 0.0.0.0 --auth /etc/chartd/auth.yaml',
    )
    .run(serve);
}

async function serve(options: ServeOptions): Promise<number> {
  const chartPaths = options.chart ?? [await defaultCharts()];
  const postgres = options.store ?? storeFromEnvironment();
  const log = loggerOf(options);
  // From here on no signal ends the process with Node's default, which would leave the data directory's LOCK.
  const signals = serveSignals(log);
  const server = await startServer({
    chartPaths,
    dataDir: options.data ?? DEFAULT_DATA,
    ...(postgres ? { postgres } : {}),
    port: options.port,
    host: options.host,
    log,
    maxInstances: options.maxInstances,
    ...(options.defaultChart ? { defaultChart: options.defaultChart } : {}),
    ...(options.alertWebhook ? { alertWebhook: options.alertWebhook } : {}),
    ...(options.backupConfig ? { backupConfig: options.backupConfig } : {}),
    ...(options.auth !== undefined ? { authFile: options.auth } : {}),
    insecureNoAuth: options.insecureNoAuth === true,
    accessLog: options.accessLog === true,
    metrics: options.metrics,
    ...tlsConfig(options),
    ...(options.values ? { valuesFile: options.values } : {}),
    ...(options.retainFinished !== undefined ? { retainFinishedMs: options.retainFinished } : {}),
    retainFinishedRate: options.retainFinishedRate,
    ...(options.lease !== undefined ? { leaseMs: options.lease } : {}),
  }).catch((error: unknown) => {
    signals.dispose();
    throw error;
  });
  process.stdout.write(`chartd listening on ${server.url}\n`);
  signals.onHangup(() => server.reload('SIGHUP'));
  await signals.stopped;
  await server.close();
  signals.dispose();
  log.flush();
  return 0;
}

/** A lease renewed every third of it: under a second, one slow round trip to the store would lose it. */
function leaseDuration(text: string): number {
  const ms = duration('--lease')(text);
  if (ms < MIN_LEASE_MS) throw new UsageError(`--lease ${text} is too short: give at least ${MIN_LEASE_MS / 1000}s (claims are renewed every third of it)`);
  return ms;
}

/** --store's URL; a problem with it names what is wrong and never repeats the password. */
function storeUrl(text: string): PostgresSettings {
  try {
    return readPostgresUrl(text, '--store');
  } catch (error) {
    if (error instanceof StoreUrlInvalid) throw new UsageError(error.message);
    throw error;
  }
}

function storeFromEnvironment(): PostgresSettings | undefined {
  try {
    return postgresSettingsFrom(undefined);
  } catch (error) {
    if (error instanceof StoreUrlInvalid) throw new StartupError(error.message);
    throw error;
  }
}

/** charts/ of the current directory; where there is none, what to do instead. */
async function defaultCharts(): Promise<string> {
  if (await stat(DEFAULT_CHARTS).then((info) => info.isDirectory(), () => false)) return DEFAULT_CHARTS;
  throw new StartupError([
    `no charts to serve: without --chart, chartd serve reads ${DEFAULT_CHARTS}/ in the current directory (${resolve(DEFAULT_CHARTS)}), and there is none. Either`,
    '  chartd init                    writes the example charts with their tests, and commented auth and values files, here;',
    `  chartd serve --chart ${BUNDLED_CHARTS}`,
    '                                 serves the examples shipped with chartd as they are; or',
    '  chartd serve --chart FILE|DIR  serves charts of your own.',
  ].join('\n'));
}
