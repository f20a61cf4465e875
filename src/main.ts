// The composition root of the engine: store, charts, handlers and runtime as named start-up steps.
// HTTP servers are built on top of it in servers.ts, so `chartd run` loads neither Koa nor the backup controller.

import type { Logger } from 'pino';
import type { BackupConfig } from './backup/controller/config.js';
import type { BackupController } from './backup/controller/controller.js';
import { backupHandlers } from './backup/controller/handlers.js';
import { loadChartPaths, parseChart } from './chart/load.js';
import type { Chart } from './chart/model.js';
import { formatProblem } from './chart/problem.js';
import { builtinHandlers } from './handlers/builtin.js';
import { createRegistry, type HandlerRegistry } from './handlers/registry.js';
import { createAlerter } from './runtime/alerts.js';
import { ChartCatalog } from './runtime/catalog.js';
import { systemClock, type Clock } from './runtime/clock.js';
import { Runtime } from './runtime/runtime.js';
import { openLowdbStore } from './store/lowdbStore.js';
import type { Store } from './store/store.js';

/** Start-up refused for a reason the operator must fix; the message says what and where. */
export class StartupError extends Error {}

export interface RuntimeConfig {
  readonly chartPaths: readonly string[];
  readonly dataDir: string;
  readonly log: Logger;
  readonly alertWebhook?: string;
  readonly clock?: Clock;
  /** --backup-config FILE: run the backup controller in this server. */
  readonly backupConfig?: string;
  /** --max-instances N: the most instances one chart may have. */
  readonly maxInstances?: number;
}

export interface Engine {
  readonly runtime: Runtime;
  readonly charts: readonly Chart[];
  readonly store: Store;
  readonly backup?: { readonly controller: BackupController; readonly config: BackupConfig };
  close(): Promise<void>;
}

/**
 * Every handler charts may name. The backup handlers are always there, so charts/backup-request.yaml
 * loads anywhere; without a controller they fail at once, saying how to configure one.
 */
export function handlerRegistry(backup: () => BackupController | undefined = () => undefined): HandlerRegistry {
  return createRegistry([...builtinHandlers(), ...backupHandlers(backup)]);
}

/** Everything but HTTP: used by `serve` and by `run`. */
export async function startEngine(config: RuntimeConfig): Promise<Engine> {
  const { log } = config;
  let controller: BackupController | undefined;
  const handlers = handlerRegistry(() => controller);
  const backup = config.backupConfig ? await loadBackup(config.backupConfig) : undefined;

  const { charts, problems } = await loadChartPaths([...config.chartPaths], { handlers });
  if (problems.length) throw new StartupError(`charts have problems:\n${problems.map(formatProblem).join('\n')}`);
  if (!charts.length) throw new StartupError(`no charts found in ${config.chartPaths.join(', ')}; pass --chart FILE|DIR`);
  log.info({ charts: charts.map((chart) => `${chart.name}@${chart.version}`) }, 'charts loaded');
  if (backup && !charts.some((chart) => chart.name === backup.module.REQUEST_CHART)) {
    throw new StartupError(`--backup-config needs the chart ${backup.module.REQUEST_CHART}; serve charts/backup-request.yaml too (e.g. --chart charts)`);
  }

  const store = await openLowdbStore(config.dataDir, { log: (level, message) => log[level]({ data: config.dataDir }, message) });
  try {
    const clock = config.clock ?? systemClock;
    const catalog = new ChartCatalog(charts, store, (source, file) => parseChart(source, file, { handlers }));
    await catalog.archiveCurrent(new Date(clock.now()));
    const runtime = new Runtime({
      store, catalog, handlers, clock, log, alerter: createAlerter(log, config.alertWebhook),
      ...(config.maxInstances !== undefined ? { maxInstances: config.maxInstances } : {}),
    });
    // The controller exists before the runtime resumes, so resumed backup-request steps find it.
    if (backup) controller = backup.module.createBackupController(backup.config, { runtime, store, clock, log });
    await runtime.start();
    await controller?.start();
    return {
      runtime, charts, store,
      ...(controller && backup ? { backup: { controller, config: backup.config } } : {}),
      async close() {
        await controller?.inbox.stop();
        await runtime.stop();
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

/** The backup controller's modules load only with --backup-config, so `chartd run` and a plain `serve` skip them. */
async function loadBackup(file: string): Promise<{ module: typeof import('./backup/controller/assemble.js'); config: BackupConfig }> {
  const module = await import('./backup/controller/assemble.js');
  const config = await module.loadBackupConfig(file).catch((error: Error) => {
    throw new StartupError(error.message);
  });
  return { module, config };
}
