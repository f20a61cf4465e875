// The composition root: builds store, charts, handlers, runtime and HTTP app as named start-up steps.

import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { loadChartPaths, parseChart } from './chart/load.js';
import type { Chart } from './chart/model.js';
import { formatProblem } from './chart/problem.js';
import { builtinHandlers } from './handlers/builtin.js';
import { createRegistry } from './handlers/registry.js';
import { createApp } from './http/app.js';
import { createAlerter } from './runtime/alerts.js';
import { ChartCatalog } from './runtime/catalog.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { Runtime } from './runtime/runtime.js';
import { openLowdbStore } from './store/lowdbStore.js';
import type { Store } from './store/store.js';
import { packageVersion } from './version.js';

/** Start-up refused for a reason the operator must fix; the message says what and where. */
export class StartupError extends Error {}

export interface RuntimeConfig {
  readonly chartPaths: readonly string[];
  readonly dataDir: string;
  readonly log: Logger;
  readonly alertWebhook?: string;
  readonly clock?: Clock;
}

export interface Engine {
  readonly runtime: Runtime;
  readonly charts: readonly Chart[];
  readonly store: Store;
  close(): Promise<void>;
}

/** Everything but HTTP: used by `serve` and by `run`. */
export async function startEngine(config: RuntimeConfig): Promise<Engine> {
  const { log } = config;
  const handlers = createRegistry(builtinHandlers());

  const { charts, problems } = await loadChartPaths([...config.chartPaths], { handlers });
  if (problems.length) throw new StartupError(`charts have problems:\n${problems.map(formatProblem).join('\n')}`);
  if (!charts.length) throw new StartupError(`no charts found in ${config.chartPaths.join(', ')}; pass --chart FILE|DIR`);
  log.info({ charts: charts.map((chart) => `${chart.name}@${chart.version}`) }, 'charts loaded');

  const store = await openLowdbStore(config.dataDir, { log: (level, message) => log[level]({ data: config.dataDir }, message) });
  try {
    const clock = config.clock ?? systemClock;
    const catalog = new ChartCatalog(charts, store, (source, file) => parseChart(source, file, { handlers }));
    await catalog.archiveCurrent(new Date(clock.now()));
    const runtime = new Runtime({ store, catalog, handlers, clock, log, alerter: createAlerter(log, config.alertWebhook) });
    await runtime.start();
    return {
      runtime, charts, store,
      async close() {
        await runtime.stop();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

export interface ServeConfig extends RuntimeConfig {
  readonly port: number;
  readonly host: string;
  readonly defaultChart?: string;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  close(): Promise<void>;
}

export async function startServer(config: ServeConfig): Promise<RunningServer> {
  const engine = await startEngine(config);
  const names = engine.charts.map((chart) => chart.name).sort();
  if (config.defaultChart && !names.includes(config.defaultChart)) {
    await engine.close();
    throw new StartupError(`--default-chart ${config.defaultChart} is not among the charts served (${names.join(', ')})`);
  }
  const app = createApp({ runtime: engine.runtime, log: config.log, chartNames: () => names, defaultChart: config.defaultChart, version: packageVersion() });
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await engine.close();
    throw new StartupError(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  config.log.info({ url, data: config.dataDir }, 'chartd is serving');
  return {
    url, port, engine,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await engine.close();
      server.closeAllConnections();
      await closed;
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
