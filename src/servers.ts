// HTTP servers on top of the engine: `chartd serve` (the StateService-compatible API) and `chartd zone`.

import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer, type ServerOptions as TlsOptions } from 'node:https';
import { fileURLToPath } from 'node:url';
import type Koa from 'koa';
import type { Logger } from 'pino';
import { loadAuthConfig, policyOf, type AuthConfig } from './access/authFile.js';
import { ChartInvalid } from './chart/problem.js';
import type { ChartClaim, Changes, ReloadPart } from './runtime/chartSources.js';
import { describeAccess, exposureProblem } from './access/exposure.js';
import { isLoopback } from './net/loopback.js';
import { AccessPolicy, digestOf, type TokenEntry } from './access/policy.js';
import { backupRoutes } from './http/routes/backupController.js';
import { readSecret, type TokenSource } from './backup/secret.js';
import { createZoneApp } from './http/zoneApp.js';
import { ZoneOutbox } from './backup/zone/zoneOutbox.js';
import { MOVE_STATE } from './backup/zone/zoneResult.js';
import { deliveredWrites, ZONE_CHART, ZONE_SETTINGS, ZoneService } from './backup/zone/zoneService.js';
import { createApp } from './http/app.js';
import { Guard, type ChartOwner, type GuardedRoutes } from './http/guard.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { SERVICES, startEngine, StartupError, type Engine, type RuntimeConfig } from './main.js';
import { watchController, watchZoneOutbox } from './metrics/backupMetrics.js';
import { engineObservers, watchEngine } from './metrics/engineMetrics.js';
import { Metrics } from './metrics/metrics.js';
import { accessLogger } from './log.js';
import { packageVersion } from './version.js';
import { loadServerTls, type OutgoingTls, type ServerTls } from './net/tlsFiles.js';

export interface ServeConfig extends RuntimeConfig {
  readonly port: number;
  readonly host: string;
  readonly defaultChart?: string;
  /** --auth FILE: tokens and scopes; without it chartd listens on loopback only (unless `insecureNoAuth`). */
  readonly authFile?: string;
  /** --insecure-no-auth: serve without tokens beyond loopback, with a warning. */
  readonly insecureNoAuth?: boolean;
  /** --tls-cert/--tls-key[/--tls-client-ca]: serve https. */
  readonly tls?: ServerTls;
  /** GET /metrics and the counting behind it; false with --no-metrics. */
  readonly metrics?: boolean;
  /** --access-log: a log line per request. */
  readonly accessLog?: boolean;
}

export interface RunningServer {
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  /** The Koa application, for tests that walk its routes. */
  readonly app: Koa;
  /** Re-reads the --chart paths, --values and --auth (SIGHUP): all served, or nothing changed (ProblemsFound). */
  reload(trigger: string): Promise<Changes>;
  close(): Promise<void>;
}

export async function startServer(config: ServeConfig): Promise<RunningServer> {
  // Checked before the engine starts, so a refused start-up never takes the data directory's lock.
  const auth = config.authFile !== undefined ? await readAuth(config.authFile) : undefined;
  const exposure = { host: config.host, authenticating: auth !== undefined, insecure: config.insecureNoAuth === true };
  const refusal = exposureProblem(exposure);
  if (refusal) throw new StartupError(refusal);
  const { access, warning } = describeAccess(exposure, auth?.reads);
  const tls = await serverTls(config.tls);
  if (warning) config.log.warn(warning);

  const metrics = config.metrics === false ? undefined : new Metrics(packageVersion());
  const engine = await startEngine({ ...config, ...(metrics ? { observers: engineObservers(metrics) } : {}) });
  const { runtime, sources } = engine;
  const names = runtime.chartNames();
  if (config.defaultChart && !names.includes(config.defaultChart)) {
    await engine.close();
    throw new StartupError(`--default-chart ${config.defaultChart} is not among the charts served (${names.join(', ')})`);
  }
  // /state keeps the chart it serves now, whatever a reload or PUT /charts adds: a script's answers never move to another.
  const defaultChart = config.defaultChart ?? (names.length === 1 ? names[0] : undefined);
  if (defaultChart) sources.claim(stateClaim(defaultChart, config.defaultChart !== undefined));
  warnUnconfigured(engine, config.log);
  const running = new Set(engine.backup ? ['backup-controller'] : []);
  const ownerOf = (name: string): ChartOwner | undefined => {
    const owner = runtime.chartNamed(name)?.owner;
    return owner === undefined ? undefined : ownerInfo(owner, running);
  };
  // Zones deliver results with the results token of the backup config, whatever the auth file says.
  const results: TokenEntry[] = engine.backup ? [serviceToken('zone-results', engine.backup.config.resultsToken.reveal(), [{ scope: 'results' }])] : [];
  const guard = new Guard({ policy: (auth ? policyOf(auth) : AccessPolicy.open()).plus(results), log: config.log, realm: 'chartd', ownerOf });
  let shown = access;
  if (config.authFile !== undefined) {
    sources.addReloadPart(authReload(config.authFile, (reloaded) => {
      guard.policy = policyOf(reloaded).plus(results);
      shown = describeAccess(exposure, reloaded.reads).access;
    }));
  }
  const mount: ((routes: GuardedRoutes) => void)[] = engine.backup ? [backupRoutes(engine.backup.controller)] : [];
  if (metrics) {
    watchEngine(metrics, engine);
    if (engine.backup) watchController(metrics, engine.backup.controller);
  }
  const app = createApp({
    runtime, sources, log: config.log, ...(defaultChart ? { defaultChart } : {}), models: engine.models, version: packageVersion(), guard,
    access: () => shown, mount, services: [...running], board: engine.supervisor, ...(metrics ? { metrics } : {}),
    ...(config.accessLog ? { accessLog: accessLogger(config.log) } : {}), ...(engine.replicas ? { replicas: () => engine.replicas!.view() } : {}),
  });
  const { server, url, port } = await serve(app, { port: config.port, host: config.host, log: config.log, tls }, () => engine.close());
  config.log.info({ url, store: engine.storeShown, backupController: Boolean(engine.backup), access }, 'chartd is serving');
  return {
    url, port, engine, app,
    reload: (trigger) => sources.reload(trigger),
    close: () => closeServer(server, () => engine.close()),
  };
}

/** The --auth file as a reload re-reads it: its problems refuse the reload; `install` serves it. */
function authReload(file: string, install: (auth: AuthConfig) => void): ReloadPart {
  return {
    async prepare() {
      try {
        const auth = await loadAuthConfig(file);
        return { problems: [], commit: () => install(auth) };
      } catch (error) {
        if (!(error instanceof ChartInvalid)) throw error;
        return { problems: error.problems, commit: () => undefined };
      }
    },
  };
}

/** The chart /state serves must stay served. */
function stateClaim(name: string, configured: boolean): ChartClaim {
  const why = configured ? '--default-chart' : `/state serves ${name}, the only chart at start-up`;
  return (charts) => (charts.some((chart) => chart.name === name) ? [] : [{
    file: configured ? '--default-chart' : '/state', path: '', line: 0,
    message: `chart ${name} must stay served (${why}); to serve /state from another chart, restart chartd with --default-chart NAME`,
  }]);
}

async function readAuth(file: string): Promise<AuthConfig> {
  return loadAuthConfig(file).catch((error: Error) => {
    throw new StartupError(error.message);
  });
}

/** A token a service holds (from its own configuration), as the access policy knows it. */
function serviceToken(name: string, token: string, grants: TokenEntry['principal']['grants']): TokenEntry {
  return { digest: digestOf(token), principal: { name, grants } };
}

function ownerInfo(service: string, running: ReadonlySet<string>): ChartOwner {
  const known = SERVICES[service];
  return { service, ...(running.has(service) && known ? { route: known.route } : {}), ...(known ? { enable: known.enable } : {}) };
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
  /** The token the controller must present with orders; may be left out when `authFile` gives the controller a token. */
  readonly token?: TokenSource;
  /** --auth FILE: more tokens (e.g. a monitor's read token), and whether reads need one. */
  readonly authFile?: string;
  /** The token this zone presents with results. */
  readonly controllerToken: TokenSource;
  readonly gnupgHome?: string;
  /** --values FILE: the zone's allow-list of environment variables (orders' passwordEnv) and chart settings. */
  readonly valuesFile?: string;
  readonly chartFile?: string;
  /** Cap of the delay between attempts to deliver a result (default 1m). */
  readonly resendMaxDelayMs?: number;
  readonly tls?: ServerTls;
  /** TLS of the result deliveries to an https:// controller. */
  readonly outgoing?: OutgoingTls;
  readonly log: Logger;
  readonly clock?: Clock;
  /** GET /metrics and the counting behind it; false with --no-metrics. */
  readonly metrics?: boolean;
  /** --access-log: a log line per request. */
  readonly accessLog?: boolean;
}

export interface RunningZone {
  readonly url: string;
  readonly port: number;
  readonly engine: Engine;
  readonly app: Koa;
  readonly zone: ZoneService;
  readonly outbox: ZoneOutbox;
  close(): Promise<void>;
}

/** `chartd zone`: a backup zone that runs backup-and-encrypt for each order and reports to the controller. */
export async function startZoneServer(config: ZoneServeConfig): Promise<RunningZone> {
  const [token, controllerToken, auth] = await Promise.all([
    config.token ? readSecret(config.token, 'zone token (--token-env/--token-file)') : undefined,
    readSecret(config.controllerToken, 'controller token (--controller-token-env/--controller-token-file)'),
    config.authFile !== undefined ? loadAuthConfig(config.authFile) : undefined,
  ]).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  if (!token && !auth) throw new StartupError('the zone needs the token the controller presents with orders: --token-env NAME, --token-file FILE, or a token with write on backup-and-encrypt in --auth FILE');
  // The controller's token may send orders (a write to the zone's chart) and read them back.
  const controller = token ? [serviceToken('controller', token.reveal(), [{ scope: 'read' }, { scope: 'write', charts: [ZONE_CHART] }])] : [];
  const policy = AccessPolicy.withTokens([...(auth?.tokens ?? []), ...controller], auth?.reads ?? 'token');
  const log = config.log.child({ zone: config.name });
  const clock = config.clock ?? systemClock;
  const tls = await serverTls(config.tls);
  const metrics = config.metrics === false ? undefined : new Metrics(packageVersion());
  const engine = await startEngine({
    chartPaths: [config.chartFile ?? ZONE_CHART_FILE], dataDir: config.dataDir, log, clock, ...(config.outgoing ? { outgoing: config.outgoing } : {}), ...(config.valuesFile !== undefined && { valuesFile: config.valuesFile }),
    ...(metrics ? { observers: engineObservers(metrics) } : {}),
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
    store: engine.store, controllerUrl: config.controllerUrl.replace(/\/+$/, ''), token: controllerToken, fetch: engine.fetch, log, clock,
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
  engine.supervisor.add(outbox.service());
  const guard = new Guard({ policy, log, realm: `chartd zone ${config.name}` });
  if (metrics) {
    watchEngine(metrics, engine);
    watchZoneOutbox(metrics, outbox);
  }
  const app = createZoneApp({
    zone, name: config.name, version: packageVersion(), guard, outboxSize: () => outbox.size, board: engine.supervisor, log,
    ...(metrics ? { metrics } : {}), ...(config.accessLog ? { accessLog: accessLogger(log) } : {}),
  });
  const { server, url, port } = await serve(app, { port: config.port, host: config.host, log, tls }, shutdown);
  log.info({ url, storage: config.storageRoot, controller: config.controllerUrl }, 'chartd zone is serving');
  return { url, port, engine, app, zone, outbox, close: () => closeServer(server, shutdown) };
}

/** Reads the certificate files before the engine starts, so a wrong file leaves no store open or lock taken. */
async function serverTls(files: ServerTls | undefined): Promise<TlsOptions | undefined> {
  if (!files) return undefined;
  return loadServerTls(files).catch((error: Error) => {
    throw new StartupError(error.message);
  });
}

interface Listening {
  readonly port: number;
  readonly host: string;
  readonly log: Logger;
  readonly tls: TlsOptions | undefined;
}

async function serve(app: Koa, config: Listening, abandon: () => Promise<void>): Promise<{ server: Server | TlsServer; url: string; port: number }> {
  const server = config.tls ? createTlsServer(config.tls, app.callback()) : createServer(app.callback());
  server.keepAliveTimeout = 65_000;
  try {
    await listen(server, config.port, config.host);
  } catch (error) {
    await abandon();
    throw new StartupError(`cannot listen on ${config.host}:${config.port}: ${(error as Error).message}`);
  }
  const port = (server.address() as AddressInfo).port;
  if (!config.tls && !isLoopback(config.host)) {
    config.log.warn({ host: config.host }, 'serving plain HTTP on a non-loopback address: bearer tokens and data travel in clear; give --tls-cert and --tls-key, or put a TLS-terminating proxy in front');
  }
  return { server, port, url: `${config.tls ? 'https' : 'http'}://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}` };
}

async function closeServer(server: Server | TlsServer, shutdown: () => Promise<void>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  await shutdown();
  server.closeAllConnections();
  await closed;
}

function listen(server: Server | TlsServer, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
