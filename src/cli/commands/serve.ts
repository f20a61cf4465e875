// `chartd serve`: start the HTTP server and stop cleanly on SIGINT/SIGTERM.

import { createLogger, type LogLevel } from '../../log.js';
import { startServer } from '../../servers.js';
import { DEFAULT_MAX_INSTANCES } from '../../runtime/quota.js';
import { parse, portNumber, positiveInteger } from '../usage.js';
import { untilStopSignal } from '../signals.js';

export async function serveCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    chart: { type: 'string', multiple: true },
    data: { type: 'string', default: './data' },
    port: { type: 'string', default: '5000' },
    host: { type: 'string', default: '127.0.0.1' },
    'default-chart': { type: 'string' },
    'alert-webhook': { type: 'string' },
    'backup-config': { type: 'string' },
    'max-instances': { type: 'string', default: String(DEFAULT_MAX_INSTANCES) },
    'log-level': { type: 'string', default: 'info' },
  }, false);
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
  });
  process.stdout.write(`chartd listening on ${server.url}\n`);
  await untilStopSignal(log);
  await server.close();
  log.flush();
  return 0;
}
