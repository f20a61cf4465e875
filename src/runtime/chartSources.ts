// The charts served while serving: a reload re-reads the --chart files (and --values), PUT applies one, DELETE withdraws one.

import type { Logger } from 'pino';
import { compileChart, parseChart } from '../chart/load.js';
import type { Chart } from '../chart/model.js';
import type { ChartModels } from '../chart/models.js';
import { ChartInvalid, formatProblem, type Notice, type Problem } from '../chart/problem.js';
import { isFinished } from '../engine/snapshot.js';
import { Conflict, NotFound, ProblemsFound } from '../errors.js';
import type { Write } from '../store/port.js';
import { appliedCharts, appliedFile, applyWrite, isApplied, unapplyWrite } from './appliedCharts.js';
import type { BoundSettings } from './boundSettings.js';
import type { ChartCatalog } from './catalog.js';
import { readChartSet, type ChartSet, type ChartSetOptions } from './chartSet.js';
import type { Clock } from './clock.js';
import type { Environment } from './environment.js';
import { checkOperatorValues, type OperatorValues } from './operatorValues.js';
import type { Runtime } from './runtime.js';

/** What must hold of any set of charts before it is served (the default chart, a service's chart); problems refuse it. */
export type ChartClaim = (charts: readonly Chart[]) => Problem[];

/** Something a reload re-reads beside the charts (the --auth file): all of it is served, or none. */
export interface ReloadPart {
  prepare(): Promise<{ readonly problems: readonly Problem[]; commit(): void }>;
}

export interface ChartSourcesOptions extends ChartSetOptions {
  readonly catalog: ChartCatalog;
  readonly runtime: Runtime;
  readonly settings: BoundSettings;
  /** The variables handlers may read, taken again from a reloaded --values file. */
  readonly environment: Environment;
  readonly clock: Clock;
  readonly log: Logger;
  /** Told once a change of the charts served is installed (replicas record what each serves). */
  readonly served?: () => Promise<void>;
}

export interface Changes {
  readonly added: readonly string[];
  readonly changed: readonly { readonly name: string; readonly from: string; readonly to: string }[];
  readonly removed: readonly string[];
}

export interface Applied {
  readonly chart: Chart;
  readonly created: boolean;
  /** The same version was served already: nothing was written. */
  readonly unchanged: boolean;
  readonly notices: readonly string[];
}

/** Removals of applied charts cancel this many active instances at a time. */
const CANCEL_BATCH = 256;

export class ChartSources {
  private values: OperatorValues;
  private currentModels: ChartModels;
  private readonly claims: ChartClaim[] = [];
  private readonly parts: ReloadPart[] = [];
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ChartSourcesOptions, initial: ChartSet) {
    this.values = initial.values;
    this.currentModels = initial.models;
  }

  /** Reads the sources as a start-up does (see readChartSet), with the problems of the claims made so far. */
  static async read(options: ChartSetOptions, claims: readonly ChartClaim[] = []): Promise<ChartSet> {
    const set = await readChartSet(options);
    return { ...set, problems: [...set.problems, ...claims.flatMap((claim) => claim(set.charts))] };
  }

  claim(claim: ChartClaim): void {
    this.claims.push(claim);
  }

  addReloadPart(part: ReloadPart): void {
    this.parts.push(part);
  }

  /** The prediction models of the charts served from files. */
  get models(): ChartModels {
    return this.currentModels;
  }

  /**
   * Reads every --chart path, the applied charts and --values again, and what the reload parts read; serves the
   * lot only if none has a problem (new versions serve new instances; running ones stay on theirs), else changes
   * nothing and throws ProblemsFound with every problem, each logged.
   */
  reload(trigger: string): Promise<Changes> {
    return this.exclusive(async () => {
      const { log } = this.options;
      const set = await readChartSet(this.options);
      const prepared = await Promise.all(this.parts.map((part) => part.prepare()));
      const problems = [
        ...set.problems, ...set.valueProblems, ...this.claimProblems(set.charts), ...this.strandedProblems(set),
        ...prepared.flatMap((part) => part.problems),
      ];
      if (set.charts.length === 0) problems.push({ file: this.options.chartPaths.join(', '), path: '', line: 0, message: 'no charts found: a reload that served none would leave nothing to serve' });
      if (problems.length) {
        const lines = problems.map(formatProblem);
        for (const line of lines) log.error({ trigger }, `reload refused: ${line}`);
        throw new ProblemsFound(`the reload changed nothing: ${lines.length} problem${lines.length === 1 ? '' : 's'}:\n${lines.join('\n')}`, lines, 'reload_refused');
      }
      logNotices(log, set.notices);
      const changes = await this.install(set.charts, [], set);
      for (const part of prepared) part.commit();
      log.info({ trigger, ...changes, served: set.charts.length }, `charts reloaded (${trigger}): ${describeChanges(changes)}`);
      return changes;
    });
  }

  /** PUT /charts/NAME: validates `source` as chart `name`, keeps it in the data directory, and serves it at once. */
  apply(name: string, source: string, token: string | undefined): Promise<Applied> {
    return this.exclusive(async () => {
      const current = this.options.catalog.get(name);
      if (current && !isApplied(current)) {
        throw new Conflict(`chart ${name} is served from the file ${current.file}; change that file and reload (SIGHUP, or POST /charts/reload) instead`, 'chart_in_file');
      }
      const file = appliedFile(name);
      let compiled;
      try {
        compiled = compileChart(source, file, this.options.load);
      } catch (error) {
        if (!(error instanceof ChartInvalid)) throw error;
        throw refused(`chart ${name} was not applied`, [...error.problems, ...error.notices]);
      }
      const { chart, notices } = compiled;
      const own: Problem[] = [];
      if (chart.name !== name) own.push({ file, path: 'chart', line: 0, message: `the chart is named ${chart.name}; apply it as PUT /charts/${chart.name}, or rename it` });
      for (const [model, ref] of Object.entries(chart.models ?? {})) {
        own.push({ file, path: `models.${model}`, line: ref.line, message: 'an applied chart cannot name model files (they are read from beside a --chart file); serve this chart from a file' });
      }
      const charts = [...this.options.catalog.charts().filter((each) => each.name !== name), chart];
      const problems = [...own, ...this.claimProblems(charts), ...this.valueProblems(charts)];
      if (problems.length) throw refused(`chart ${name} was not applied`, [...problems, ...notices]);
      const shown = notices.map(formatProblem);
      if (current?.version === chart.version) return { chart: current, created: false, unchanged: true, notices: shown };
      const now = new Date(this.options.clock.now());
      await this.install(charts, [applyWrite(chart, now, token)]);
      this.options.log.info({ chart: name, version: chart.version, previous: current?.version ?? null, token }, `chart ${name} applied over HTTP`);
      return { chart, created: current === undefined, unchanged: false, notices: shown };
    });
  }

  /**
   * Serves the applied charts as the store holds them now (another replica applied or deleted one); the --chart
   * files and --values are not read again. An applied chart that no longer loads here is left out, with a warning.
   */
  followApplied(): Promise<Changes> {
    return this.exclusive(async () => {
      const { catalog, store, log } = this.options;
      const files = catalog.charts().filter((chart) => !isApplied(chart));
      const applied: Chart[] = [];
      for (const stored of await appliedCharts(store)) {
        if (files.some((chart) => chart.name === stored.name)) continue;
        const served = catalog.get(stored.name);
        if (served?.version === stored.version) {
          applied.push(served);
          continue;
        }
        try {
          applied.push(parseChart(stored.source, appliedFile(stored.name), this.options.load));
        } catch (error) {
          if (!(error instanceof ChartInvalid)) throw error;
          log.warn({ chart: stored.name, version: stored.version, problems: error.problems.map(formatProblem) }, `chart ${stored.name} applied on another replica does not load here; not served`);
        }
      }
      const charts = [...files, ...applied].sort((a, b) => (a.name < b.name ? -1 : 1));
      const current = catalog.charts();
      if (charts.length === current.length && charts.every((chart, at) => chart === current[at])) return { added: [], changed: [], removed: [] };
      const changes = await this.install(charts, []);
      log.info(changes, `charts applied on another replica: ${describeChanges(changes)}`);
      return changes;
    });
  }

  /**
   * DELETE /charts/NAME: stops serving an applied chart and forgets it. Refused while it has active instances unless
   * `cancelActive`: each is then cancelled first (its cleanup runs on, on its own version), saying why.
   */
  remove(name: string, request: { readonly cancelActive: boolean; readonly reason?: string; readonly token?: string }): Promise<{ chart: Chart; cancelled: number }> {
    return this.exclusive(async () => {
      const { catalog, runtime, log } = this.options;
      const chart = catalog.get(name);
      if (!chart) throw new NotFound(`no chart named ${name}; GET /charts lists the charts served`);
      if (!isApplied(chart)) throw new Conflict(`chart ${name} is served from the file ${chart.file}; remove it from the --chart files and reload`, 'chart_in_file');
      const charts = catalog.charts().filter((each) => each.name !== name);
      const problems = [...this.claimProblems(charts), ...this.valueProblems(charts)];
      if (problems.length) throw refused(`chart ${name} was not deleted`, problems, 'chart_in_use', 409);
      const active = (await runtime.instances(name)).filter((snapshot) => !isFinished(snapshot));
      if (active.length && !request.cancelActive) throw new Conflict(`chart ${name} has ${active.length} active instance${active.length === 1 ? '' : 's'}`, 'chart_has_active_instances');
      const reason = `chart ${name} was deleted${request.reason ? `: ${request.reason}` : ''}`;
      for (let index = 0; index < active.length; index += CANCEL_BATCH) {
        await Promise.all(active.slice(index, index + CANCEL_BATCH).map((snapshot) => runtime.cancel(name, snapshot.id, { reason, ...(request.token ? { token: request.token } : {}) })));
      }
      await this.install(charts, [unapplyWrite(name)]);
      log.warn({ chart: name, version: chart.version, cancelled: active.length, token: request.token }, `chart ${name} deleted over HTTP${active.length ? `; ${active.length} active instances cancelled` : ''}`);
      return { chart, cancelled: active.length };
    });
  }

  /** Durably records `writes` and the new versions, then serves `charts` (with a re-read values file and models, on a reload). */
  private async install(charts: readonly Chart[], writes: readonly Write[], reread?: ChartSet): Promise<Changes> {
    const { catalog, store, clock, runtime } = this.options;
    const before = new Map(catalog.charts().map((chart) => [chart.name, chart]));
    const all = [...writes, ...catalog.archiveWrites(charts, new Date(clock.now()))];
    if (all.length) await store.commit(all);
    catalog.archivedBy(all);
    catalog.serve(charts);
    if (reread) {
      this.values = reread.values;
      this.currentModels = reread.models;
      this.options.settings.rebind(reread.values.charts);
      this.options.environment.allowOnly(reread.values.environment);
    }
    const added = charts.filter((chart) => !before.has(chart.name)).map((chart) => chart.name);
    await this.options.served?.();
    await runtime.resume(added);
    return {
      added,
      changed: charts.flatMap((chart) => {
        const old = before.get(chart.name);
        return old && old.version !== chart.version ? [{ name: chart.name, from: old.version, to: chart.version }] : [];
      }),
      removed: [...before.keys()].filter((name) => !charts.some((chart) => chart.name === name)),
    };
  }

  private claimProblems(charts: readonly Chart[]): Problem[] {
    return this.claims.flatMap((claim) => claim(charts));
  }

  private valueProblems(charts: readonly Chart[]): Problem[] {
    return checkOperatorValues(this.values, charts, this.options.inputs, this.options.load.handlers);
  }

  /**
   * A chart that would no longer be served while instances of it are active: they would be stranded mid-run. One
   * whose file has problems is named by them already.
   */
  private strandedProblems({ charts, problems }: ChartSet): Problem[] {
    const { catalog, runtime } = this.options;
    const gone = catalog.charts().filter((chart) => !charts.some((each) => each.name === chart.name) && !problems.some((problem) => problem.file === chart.file));
    return gone.flatMap((chart) => {
      const { active } = runtime.tally.counts(chart.name);
      if (active === 0) return [];
      return [{
        file: chart.file, path: '', line: 0,
        message: `chart ${chart.name} would no longer be served, but ${active} of its instances are active; keep declaring it until they finish, or cancel them (POST /charts/${chart.name}/instances/ID/cancel)`,
      }];
    });
  }

  /** One change of the charts at a time: a SIGHUP during a PUT waits for it. */
  private exclusive<T>(task: () => Promise<T>): Promise<T> {
    const run = this.queue.then(task);
    this.queue = run.catch(() => undefined);
    return run;
  }
}

/** Logs each warning or note of the charts read, as chartd validate prints it. */
export function logNotices(log: Logger, notices: readonly Notice[]): void {
  for (const notice of notices) log[notice.level === 'warning' ? 'warn' : 'info']({ file: notice.file, line: notice.line, path: notice.path }, formatProblem(notice));
}

function refused(what: string, problems: readonly (Problem | Notice)[], code = 'chart_invalid', status = 400): ProblemsFound {
  const lines = problems.map(formatProblem);
  return new ProblemsFound(`${what}:\n${lines.join('\n')}`, lines, code, status);
}

function describeChanges(changes: Changes): string {
  const parts = [
    changes.added.length ? `added ${changes.added.join(', ')}` : '',
    changes.changed.length ? `new versions of ${changes.changed.map((change) => change.name).join(', ')}` : '',
    changes.removed.length ? `removed ${changes.removed.join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'nothing changed';
}
