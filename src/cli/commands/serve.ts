// `chartd serve`: start the HTTP server and stop cleanly on SIGINT/SIGTERM.

import { createLogger, type LogLevel } from '../../log.js';
import { startServer } from '../../servers.js';
import { DEFAULT_MAX_INSTANCES } from '../../runtime/quota.js';
import { parse, portNumber, positiveInteger, UsageError } from '../usage.js';
import { untilStopSignal } from '../signals.js';
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
    'no-metrics': { type: 'boolean', default: false },
    auth: { type: 'string' },
    'insecure-no-auth': { type: 'boolean', default: false },
    ...TLS_OPTIONS,
  }, false);
  if (values.auth !== undefined && values['insecure-no-auth']) throw new UsageError('--auth and --insecure-no-auth contradict each other; give one');
  const log = createLogger(values['log-level'] as LogLevel);
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
    metrics: !values['no-metrics'],
    ...tlsConfig(values),
    ...(values.values ? { valuesFile: values.values } : {}),
  });
  process.stdout.write(`chartd listening on ${server.url}\n`);
  await untilStopSignal(log);
  await server.close();
  log.flush();
  return 0;
}
