// HTTP servers on top of the engine: `chartd serve` (the StateService-compatible API) and `chartd zone`.

import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import type Router from '@koa/router';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { backupRoutes } from './http/routes/backupController.js';
import { readSecret, type TokenSource } from './backup/secret.js';
import { createZoneApp } from './http/zoneApp.js';
import { ZoneOutbox } from './backup/zone/zoneOutbox.js';
import { MOVE_STATE } from './backup/zone/zoneResult.js';
import { deliveredWrites, ZONE_CHART, ZONE_SETTINGS, ZoneService } from './backup/zone/zoneService.js';
import { createApp } from './http/app.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { startEngine, StartupError, type Engine, type RuntimeConfig } from './main.js';
import { packageVersion } from './version.js';

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
  warnUnconfigured(engine, config.log);
  const mount: ((router: Router) => void)[] = engine.backup ? [backupRoutes(engine.backup.controller, engine.backup.config.resultsToken)] : [];
  const app = createApp({ runtime: engine.runtime, log: config.log, chartNames: () => names, defaultChart: config.defaultChart, version: packageVersion(), mount });
  const { server, url, port } = await serve(app, config, () => engine.close());
  config.log.info({ url, data: config.dataDir, backupController: Boolean(engine.backup) }, 'chartd is serving');
  return {
    url, port, engine,
    close: () => closeServer(server, () => engine.close()),
  };
}

/** One line per chart that cannot start instances until the operator binds its settings; it is served all the same. */
function warnUnconfigured(engine: Engine, log: Logger): void {
  for (const chart of engine.charts) {
    const missing = engine.runtime.missingSettings(chart.name);
    if (missing.length) {
      log.warn({ chart: chart.name, missing }, `chart ${chart.name} creates no instances until its settings ${missing.join(', ')} are bound: --values FILE, under charts: ${chart.name}:`);
    }
  }
}

/** The chart the built-in zone runs unless told otherwise: charts/backup-and-encrypt.yaml of this package. */
export const ZONE_CHART_FILE = fileURLToPath(new URL('../charts/backup-and-encrypt.yaml', import.meta.url));

export interface ZoneServeConfig {
  readonly name: string;
  /** Absolute path of the zone's storage area. */
  readonly storageRoot: string;
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  /** Where results go: the controller's base URL (POST /zone-results). */
  readonly controllerUrl: string;
  /** The token the controller must present with orders. */
  readonly token: TokenSource;
  /** The token this zone presents with results. */
  readonly controllerToken: TokenSource;
  readonly gnupgHome?: string;
  /** --values FILE: the zone's allow-list of environment variables (orders' passwordEnv) and chart settings. */
  readonly valuesFile?: string;
  readonly chartFile?: string;
  /** Cap of the delay between attempts to deliver a result (default 1m). */
  readonly resendMaxDelayMs?: number;
  readonly log: Logger;
  readonly clock?: Clock;
}

export interface RunningZone {
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  readonly zone: ZoneService;
  readonly outbox: ZoneOutbox;
  close(): Promise<void>;
}

/** `chartd zone`: a backup zone that runs backup-and-encrypt for each order and reports to the controller. */
export async function startZoneServer(config: ZoneServeConfig): Promise<RunningZone> {
  const [token, controllerToken] = await Promise.all([
    readSecret(config.token, 'zone token (--token-env/--token-file)'),
    readSecret(config.controllerToken, 'controller token (--controller-token-env/--controller-token-file)'),
  ]).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  const log = config.log.child({ zone: config.name });
  const clock = config.clock ?? systemClock;
  const engine = await startEngine({
    chartPaths: [config.chartFile ?? ZONE_CHART_FILE], dataDir: config.dataDir, log, clock, ...(config.valuesFile !== undefined && { valuesFile: config.valuesFile }),
  });
  const chart = engine.charts.find((each) => each.name === ZONE_CHART);
  if (chart?.states[MOVE_STATE]?.kind !== 'step') {
    await engine.close();
    throw new StartupError(`the zone runs the chart ${ZONE_CHART}, with a ${MOVE_STATE} step that puts the backup in long-term storage; ${config.chartFile ?? ZONE_CHART_FILE} is not it`);
  }
  const declared = Object.keys((chart.settings?.['properties'] ?? {}) as object);
  const undeclared = ZONE_SETTINGS.filter((key) => !declared.includes(key));
  if (undeclared.length) {
    await engine.close();
    throw new StartupError(`the zone gives each backup the settings ${ZONE_SETTINGS.join(', ')}; ${config.chartFile ?? ZONE_CHART_FILE} does not declare ${undeclared.join(', ')} under settings:`);
  }
  const now = (): string => new Date(clock.now()).toISOString();
  const outbox = new ZoneOutbox({
    store: engine.store, controllerUrl: config.controllerUrl.replace(/\/+$/, ''), token: controllerToken, log,
    maxDelayMs: config.resendMaxDelayMs ?? 60_000, timeoutMs: 10_000, onDelivered: deliveredWrites(engine.store, now),
  });
  const zone = new ZoneService({
    runtime: engine.runtime, store: engine.store, clock, log, outbox, name: config.name, storageRoot: config.storageRoot, environment: engine.environment,
    ...(config.gnupgHome !== undefined ? { gnupgHome: config.gnupgHome } : {}),
  });
  const shutdown = async (): Promise<void> => {
    await zone.stop();
    await engine.close();
  };
  await zone.start();
  const app = createZoneApp({ zone, name: config.name, token, outboxSize: () => outbox.size, log });
  const { server, url, port } = await serve(app, config, shutdown);
  log.info({ url, storage: config.storageRoot, controller: config.controllerUrl }, 'chartd zone is serving');
  return { url, port, engine, zone, outbox, close: () => closeServer(server, shutdown) };
}

async function serve(app: Koa, config: { port: number; host: string }, abandon: () => Promise<void>): Promise<{ server: Server; url: string; port: number }> {
  const server = createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await abandon();
    throw new StartupError(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  return { server, port, url: `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}` };
}

async function closeServer(server: Server, shutdown: () => Promise<void>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await shutdown();
  server.closeAllConnections();
  await closed;
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
