// The composition root of the engine: store, charts, handlers and runtime as named start-up steps.
// HTTP servers are built on top of it in servers.ts, so `chartd run` loads neither Koa nor the backup controller.

import type { Logger } from 'pino';
import type { BackupConfig } from './backup/controller/config.js';
import type { BackupController } from './backup/controller/controller.js';
import { backupHandlers } from './backup/controller/handlers.js';
import { parseChart, type LoadOptions } from './chart/load.js';
import type { Chart } from './chart/model.js';
import type { ChartModels } from './chart/models.js';
import { formatProblem, type Problem } from './chart/problem.js';
import { builtinHandlers } from './handlers/builtin.js';
import { createRegistry, type HandlerRegistry } from './handlers/registry.js';
import { createHttpClient, type Fetch } from './net/httpClient.js';
import type { OutgoingTls } from './net/tlsFiles.js';
import { AlertOutbox, checkWebhookUrl } from './runtime/alertOutbox.js';
import { ALERTS } from './runtime/alertRecords.js';
import { createAlerter } from './runtime/alerts.js';
import { BoundSettings } from './runtime/boundSettings.js';
import { APPLIED_CHARTS } from './runtime/appliedCharts.js';
import { CHART_VERSIONS, ChartCatalog } from './runtime/catalog.js';
import { ChartSources, logNotices, type ChartClaim } from './runtime/chartSources.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { Environment } from './runtime/environment.js';
import { InputChecker } from './runtime/inputChecker.js';
import { ReplicaRegistry, REPLICAS } from './runtime/replicaRegistry.js';
import { Retention } from './runtime/retention.js';
import { DEFAULT_LEASE_MS, INSTANCES, ownerId, Runtime, type Change } from './runtime/runtime.js';
import type { StepEvent } from './runtime/steps.js';
import { StoreFollower } from './runtime/storeFollower.js';
import { logTransitions } from './runtime/transitionLog.js';
import { alertsService, checkpointerService, replicasService, retentionService, runtimeServices } from './services/engineServices.js';
import { Supervisor } from './services/supervisor.js';
import { openLowdbStore, type JournalWrite, type LowdbStore, type StoreStats } from './store/lowdbStore.js';
import type { PostgresSettings } from './store/postgres/settings.js';
import type { Store } from './store/port.js';
import { readAll } from './store/readAll.js';
import type { Snapshot } from './engine/snapshot.js';

/** Start-up refused for a reason the operator must fix; the message says what and where. */
export class StartupError extends Error {}

export interface RuntimeConfig {
  readonly chartPaths: readonly string[];
  /** The embedded store's data directory; unused when `postgres` is given. */
  readonly dataDir: string;
  /** --store postgres://…: the store is this PostgreSQL database, shared with any other replicas. */
  readonly postgres?: PostgresSettings;
  readonly log: Logger;
  readonly alertWebhook?: string;
  readonly clock?: Clock;
  /** --backup-config FILE: run the backup controller in this server. */
  readonly backupConfig?: string;
  /** --ca-file, --client-cert/--client-key: TLS of the calls chartd makes (webhook, job service, zones, controller). */
  readonly outgoing?: OutgoingTls;
  /** --values FILE: the operator's settings for the charts and the environment variables handlers may read. */
  readonly valuesFile?: string;
  /** Handlers may read any environment variable: `chartd run`, where the operator names them at the shell. */
  readonly anyEnvironment?: boolean;
  /** --max-instances N: the most instances one chart may have. */
  readonly maxInstances?: number;
  /** False where the caller prints each failure itself (`chartd run`): the log does not repeat them. */
  readonly logFailures?: boolean;
  /** --retain-finished DURATION: finished instances are removed once finished this long. */
  readonly retainFinishedMs?: number;
  /** --retain-finished-rate N: the most finished instances removed a second. */
  readonly retainFinishedRate?: number;
  /** --lease DURATION: how long a claim on a step or deadline holds unrenewed. */
  readonly leaseMs?: number;
  /** Hooks told of what the engine does, from its start on (metrics); each is called in place, so it must be cheap. */
  readonly observers?: EngineObservers;
}

export interface EngineObservers {
  readonly journalWrite?: (write: JournalWrite) => void;
  /** Every committed change, as the runtime's change listeners see it. */
  readonly change?: (change: Change) => void;
  readonly step?: (event: StepEvent) => void;
  /** An attempt to deliver an alert to the webhook: taken or not. */
  readonly alertAttempt?: (delivered: boolean) => void;
}

export interface Engine {
  readonly runtime: Runtime;
  /** The charts served at start-up; `sources` changes them while serving. */
  readonly charts: readonly Chart[];
  /** Where the charts served come from: reload, apply, delete. */
  readonly sources: ChartSources;
  /** The prediction models the charts name (POST /state), as of the last reload. */
  readonly models: () => ChartModels;
  /** The handlers charts may name. */
  readonly handlers: HandlerRegistry;
  readonly store: Store;
  /** The one outgoing client, built from `outgoing`. */
  readonly fetch: Fetch;
  /** The server environment variables handlers may read. */
  readonly environment: Environment;
  /** The embedded store's counters and journal size, read cheaply (metrics); undefined on PostgreSQL. */
  readonly storeStats?: () => StoreStats;
  /** Where the store is, for logs: the data directory, or the PostgreSQL URL without its password. */
  readonly storeShown: string;
  readonly backup?: { readonly controller: BackupController; readonly config: BackupConfig };
  /** On a shared store: the replicas sharing it and the chart versions each serves. */
  readonly replicas?: ReplicaRegistry;
  /** Starts, watches and keeps alive the background services (GET /services); servers add their own. */
  readonly supervisor: Supervisor;
  close(): Promise<void>;
}

/**
 * Every handler charts may name. The backup handlers are always there, so charts/backup-request.yaml
 * loads anywhere; without a controller they fail at once, saying how to configure one.
 */
export function handlerRegistry(backup: () => BackupController | undefined = () => undefined): HandlerRegistry {
  return createRegistry([...builtinHandlers(), ...backupHandlers(backup)]);
}

/** The services built into chartd that may own a chart (`owner:`), with how clients reach them and how they are started. */
export const SERVICES: Readonly<Record<string, { readonly route: string; readonly enable: string }>> = {
  'backup-controller': { route: 'POST /backup-requests', enable: 'start chartd serve with --backup-config FILE' },
};

/** How every command loads charts: the handlers they may run and the services they may name as owner. */
export function chartLoadOptions(handlers: HandlerRegistry = handlerRegistry()): LoadOptions {
  return { handlers, services: Object.keys(SERVICES) };
}

/** Everything but HTTP: used by `serve` and by `run`. */
export async function startEngine(config: RuntimeConfig): Promise<Engine> {
  const { log, observers = {} } = config;
  const webhookProblem = config.alertWebhook === undefined ? undefined : checkWebhookUrl(config.alertWebhook);
  if (webhookProblem) throw new StartupError(webhookProblem);
  let controller: BackupController | undefined;
  const handlers = handlerRegistry(() => controller);
  const backup = config.backupConfig ? await loadBackup(config.backupConfig) : undefined;
  const http = await createHttpClient(config.outgoing).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  // One clock for the runtime and the store's own timers.
  const clock = config.clock ?? systemClock;
  const { store, lowdb, shown } = await openStore(config, clock).catch(async (error: unknown) => {
    await http.close();
    throw error;
  });
  // Other replicas change a shared store: what is kept in memory follows their commits, heard from now on.
  const follower = lowdb ? undefined : new StoreFollower(store, (problem) => log.warn({ store: shown }, problem));
  follower?.start();
  try {
    const load = chartLoadOptions(handlers);
    const inputs = new InputChecker();
    const claims = backup ? [serviceClaim(backup.module.REQUEST_CHART, 'backup-controller', '--backup-config', 'charts/backup-request.yaml')] : [];
    const reading = { chartPaths: config.chartPaths, store, load, inputs, ...(config.valuesFile !== undefined ? { valuesFile: config.valuesFile } : {}) };
    // Charts applied over HTTP are kept in the store, so the charts are read once it is open.
    const set = await ChartSources.read(reading, claims);
    if (set.problems.length) throw new StartupError(`charts have problems:\n${set.problems.map(formatProblem).join('\n')}`);
    logNotices(log, set.notices);
    if (!set.charts.length) throw new StartupError(`no charts found in ${config.chartPaths.join(', ')}; pass --chart FILE|DIR`);
    if (set.valueProblems.length) throw new StartupError(`values file has problems:\n${set.valueProblems.map(formatProblem).join('\n')}`);
    log.info({ charts: set.charts.map((chart) => `${chart.name}@${chart.version}`) }, 'charts loaded');
    const environment = new Environment(config.anyEnvironment ? 'any' : new Set(set.values.environment));
    const catalog = await ChartCatalog.open(set.charts, store, (source, file) => parseChart(source, file, load));
    await catalog.archiveCurrent(new Date(clock.now()));
    follower?.follow(CHART_VERSIONS, (key) => catalog.readArchivedVersion(key), () => catalog.readArchived());
    await follower?.resync(CHART_VERSIONS);
    // One claimer among the replicas, for effects and alerts alike.
    const owner = ownerId();
    const outbox = config.alertWebhook
      ? new AlertOutbox({ store, fetch: http.fetch, url: config.alertWebhook, clock, log, owner, leaseMs: DEFAULT_LEASE_MS, ...(observers.alertAttempt ? { onAttempt: observers.alertAttempt } : {}) })
      : undefined;
    await outbox?.look();
    const unsent = outbox ? 0 : await store.count(ALERTS);
    if (unsent) log.warn({ alerts: unsent }, 'alerts recorded for a webhook wait undelivered; start with --alert-webhook URL to deliver them');
    const alerter = createAlerter({ log, ...(outbox ? { outbox } : {}), ...(config.logFailures === false ? { logFailures: false } : {}) });
    const settings = new BoundSettings(inputs, set.values.charts);
    const runtime = new Runtime({
      store, catalog, handlers, clock, log, alerter, inputs, environment, settings, owner,
      ...(config.maxInstances !== undefined ? { maxInstances: config.maxInstances } : {}),
      ...(config.leaseMs !== undefined ? { leaseMs: config.leaseMs } : {}),
      ...(follower ? { follower } : {}),
      ...(observers.step ? { onStep: observers.step } : {}),
    });
    // Listening before the runtime resumes, so the default instances it creates are logged and counted too.
    runtime.onChange(logTransitions(log));
    if (observers.change) runtime.onChange(observers.change);
    // The controller exists before the runtime resumes, so resumed backup-request steps find it.
    if (backup) controller = backup.module.createBackupController(backup.config, { runtime, store, clock, log, fetch: http.fetch, owner, leaseMs: config.leaseMs ?? DEFAULT_LEASE_MS });
    await runtime.start();
    const replicas = follower ? new ReplicaRegistry({ store, clock, log, served: () => catalog.charts() }) : undefined;
    const served = replicas && ((): Promise<void> => replicas.publish().catch((error: Error) => {
      log.warn({ store: shown }, `could not record the charts this replica serves: ${error.message}`);
    }));
    const sources = new ChartSources({ ...reading, catalog, runtime, settings, environment, clock, log, ...(served ? { served } : {}) }, set);
    for (const claim of claims) sources.claim(claim);
    if (follower && replicas) {
      const followApplied = async (): Promise<void> => void (await sources.followApplied());
      follower.follow(APPLIED_CHARTS, followApplied, followApplied);
      await follower.resync(APPLIED_CHARTS);
      follower.follow(REPLICAS, () => replicas.refresh(), () => replicas.refresh());
      await replicas.start();
    }
    await controller?.start();
    const retention = config.retainFinishedMs === undefined ? undefined : new Retention({
      runtime, clock, log, stored: () => readAll<Snapshot>(store, INSTANCES), afterMs: config.retainFinishedMs,
      ...(config.retainFinishedRate !== undefined ? { perSecond: config.retainFinishedRate } : {}),
    });
    const supervisor = new Supervisor({ config: set.values.services, clock, log });
    const services = [...(lowdb ? [checkpointerService(lowdb)] : []), ...(replicas ? [replicasService(replicas)] : []), ...runtimeServices(runtime), ...(outbox ? [alertsService(outbox)] : []), ...(retention ? [retentionService(retention)] : []), ...(controller?.services() ?? [])];
    for (const service of services) {
      supervisor.add(service);
    }
    supervisor.start();
    return {
      runtime, charts: set.charts, sources, models: () => sources.models, handlers, store, fetch: http.fetch, environment, supervisor, storeShown: shown,
      ...(lowdb ? { storeStats: () => lowdb.stats() } : {}), ...(replicas ? { replicas } : {}),
      ...(controller && backup ? { backup: { controller, config: backup.config } } : {}),
      async close() {
        await supervisor.stop();
        await retention?.stop();
        await controller?.inbox.stop();
        await runtime.stop();
        await replicas?.stop().catch((error: Error) => log.warn({ store: shown }, `could not remove this replica's record from the store: ${error.message}`));
        follower?.stop();
        await store.close();
        await http.close();
      },
    };
  } catch (error) {
    follower?.stop();
    await store.close();
    await http.close();
    throw error;
  }
}

/** The embedded store in the data directory (its lock taken), or the PostgreSQL store, whose module loads only then. */
async function openStore(config: RuntimeConfig, clock: Clock): Promise<{ store: Store; lowdb?: LowdbStore; shown: string }> {
  const { log, observers = {} } = config;
  if (config.postgres) {
    const { PostgresStore } = await import('./store/postgres/postgresStore.js');
    const shown = config.postgres.shown;
    const store = await PostgresStore.open(config.postgres, { log: (level, message) => log[level]({ store: shown }, message), clock });
    return { store, shown };
  }
  const lowdb = await openLowdbStore(config.dataDir, {
    log: (level, message) => log[level]({ data: config.dataDir }, message), ...(observers.journalWrite ? { onJournalWrite: observers.journalWrite } : {}),
  });
  return { store: lowdb, lowdb, shown: config.dataDir };
}

/**
 * A service takes the chart it drives: the chart must be served and must say the service owns it, so the generic
 * routes refuse to create or move its instances (a chart file without the owner would let any client forge them).
 * Checked at start-up and before every reload or change of the charts served.
 */
function serviceClaim(name: string, service: string, option: string, bundled: string): ChartClaim {
  return (charts) => {
    const chart = charts.find((each) => each.name === name);
    const problem = (file: string, message: string): Problem[] => [{ file, path: '', line: 0, message }];
    if (!chart) return problem(option, `needs the chart ${name}; serve ${bundled} too (e.g. --chart charts)`);
    if (chart.owner === service) return [];
    return problem(chart.file, `the ${service} drives chart ${name}, so the chart must declare owner: ${service}${chart.owner ? ` (it names ${chart.owner})` : ''}; without it any client could create or move its instances through the generic routes (${bundled} has it)`);
  };
}

/** The backup controller's modules load only with --backup-config, so `chartd run` and a plain `serve` skip them. */
async function loadBackup(file: string): Promise<{ module: typeof import('./backup/controller/assemble.js'); config: BackupConfig }> {
  const module = await import('./backup/controller/assemble.js');
  const config = await module.loadBackupConfig(file).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  return { module, config };
}
