// `chartd serve`: start the HTTP server, reload its charts on SIGHUP, and stop cleanly on SIGINT/SIGTERM.

import { createLogger, type LogLevel } from '../../log.js';
import { startServer } from '../../servers.js';
import { DEFAULT_MAX_INSTANCES } from '../../runtime/quota.js';
import { DEFAULT_REMOVALS_PER_SECOND } from '../../runtime/retention.js';
import { parseDuration } from '../../chart/duration.js';
import { parse, portNumber, positiveInteger, UsageError } from '../usage.js';
import { serveSignals } from '../signals.js';
import { TLS_OPTIONS, tlsConfig } from '../tlsOptions.js';

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    chart: { type: 'string', multiple: true },
    data: { type: 'string', default: './data' },
    port: { type: 'string', default: '5000' },
    host: { type: 'string', default: '127.0.0.1' },
    'default-chart': { type: 'string' },
    'alert-webhook': { type: 'string' },
    'backup-config': { type: 'string' },
    values: { type: 'string' },
    'max-instances': { type: 'string', default: String(DEFAULT_MAX_INSTANCES) },
    'log-level': { type: 'string', default: 'info' },
    'retain-finished': { type: 'string' },
    'retain-finished-rate': { type: 'string', default: String(DEFAULT_REMOVALS_PER_SECOND) },
    auth: { type: 'string' },
    'insecure-no-auth': { type: 'boolean', default: false },
    ...TLS_OPTIONS,
  }, false);
  if (values.auth !== undefined && values['insecure-no-auth']) throw new UsageError('--auth and --insecure-no-auth contradict each other; give one');
  const retainFinishedMs = values['retain-finished'] === undefined ? undefined : retention(values['retain-finished']);
  const log = createLogger(values['log-level'] as LogLevel);
  // From here on no signal ends the process with Node's default, which would leave the data directory's LOCK.
  const signals = serveSignals(log);
  const server = await startServer({
    chartPaths: values.chart?.length ? values.chart : ['charts'],
    dataDir: values.data,
    port: portNumber(values.port),
    host: values.host,
    log,
    maxInstances: positiveInteger(values['max-instances'], '--max-instances'),
    ...(values['default-chart'] ? { defaultChart: values['default-chart'] } : {}),
    ...(values['alert-webhook'] ? { alertWebhook: values['alert-webhook'] } : {}),
    ...(values['backup-config'] ? { backupConfig: values['backup-config'] } : {}),
    ...(values.auth !== undefined ? { authFile: values.auth } : {}),
    insecureNoAuth: values['insecure-no-auth'],
    ...tlsConfig(values),
    ...(values.values ? { valuesFile: values.values } : {}),
    ...(retainFinishedMs !== undefined ? { retainFinishedMs } : {}),
    retainFinishedRate: positiveInteger(values['retain-finished-rate'], '--retain-finished-rate'),
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

function retention(text: string): number {
  try {
    return parseDuration(text);
  } catch (error) {
    throw new UsageError(`--retain-finished ${text}: ${(error as Error).message}`);
  }
}
