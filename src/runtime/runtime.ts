// Where inputs become durable changes: per-instance batches (batch.ts) with the effects they owe, the effect runner, alerts and listeners.

import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { Chart } from '../chart/model.js';
import { renderValue } from '../chart/template.js';
import type { Input, Outcome, Restart } from '../engine/transition.js';
import { isFinished, templateScope, type Context, type Snapshot, type Transition } from '../engine/snapshot.js';
import { BadRequest, Conflict, NotFound } from '../errors.js';
import type { HandlerLookup } from '../handlers/handler.js';
import type { Fence, Store, StoreHealth, Stored } from '../store/port.js';
import { readAll } from '../store/readAll.js';
import type { AlertHealth } from './alertOutbox.js';
import type { Alerter, FailureReport } from './alerts.js';
import type { BoundSettings } from './boundSettings.js';
import type { ChartCatalog } from './catalog.js';
import type { Clock } from './clock.js';
import type { Environment } from './environment.js';
import type { InputChecker } from './inputChecker.js';
import { INSTANCES, InstanceBatches, noInstance, type Done, type Work } from './batch.js';
import { deriveEffects } from './effectRecords.js';
import { EffectRunner, type EffectKind } from './effectRunner.js';
import { moveHistoryOut, readHistory } from './history.js';
import { KeyedQueue } from './queue.js';
import { DEFAULT_MAX_INSTANCES, InstanceQuota, SharedQuota, type Quota } from './quota.js';
import { StepRunner, type StepEvent } from './steps.js';
import type { StoreFollower } from './storeFollower.js';
import { InstanceTally, type Counts } from './tally.js';
import { Waiters } from './waiters.js';

export { INSTANCES };
export const DEFAULT_INSTANCE = 'default';

export interface RuntimeOptions {
  readonly store: Store;
  readonly catalog: ChartCatalog;
  readonly handlers: HandlerLookup;
  readonly clock: Clock;
  readonly log: Logger;
  readonly alerter: Alerter;
  readonly inputs: InputChecker;
  readonly settings: BoundSettings;
  /** The server environment variables handlers may read. */
  readonly environment: Environment;
  /** The most instances one chart may have (DEFAULT_MAX_INSTANCES unless given). */
  readonly maxInstances?: number;
  /** Other replicas write to the store too: what is kept in memory follows their changes through it. */
  readonly follower?: StoreFollower;
  /** Told as each step attempt starts and ends (metrics); called in place. */
  readonly onStep?: (event: StepEvent) => void;
  /** Who claims effects: unique to this process (ownerId() unless given). */
  readonly owner?: string;
  /** How long a claim on an effect holds unrenewed (DEFAULT_LEASE_MS unless given). */
  readonly leaseMs?: number;
}

/** A replica that stops renewing (killed, cut off) has its steps and deadlines taken over this long after. */
export const DEFAULT_LEASE_MS = 30_000;

/** This process among the replicas: its host, pid and a random part, as a pid is reused after a restart. */
export function ownerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** How an instance is created besides its context. */
export interface CreateOptions {
  /** Settings for this instance from an in-process service (the zone), over the operator's bound values; never from HTTP. */
  readonly settings?: Context;
  /** The bearer token (its name) that asked for it, recorded in the creation's history entry. */
  readonly token?: string;
}

/** Who asked for a cancel or restart, and why (recorded in the instance's history). */
export interface Request {
  readonly reason?: string;
  readonly by?: string;
  readonly token?: string;
}

/** What one instance's committed change means for listeners (watch streams, metrics). */
export interface Change {
  readonly before: Snapshot | undefined;
  readonly after: Snapshot;
  /** The transitions the change made, oldest first (none for a check-in a gate only counted). */
  readonly recorded: readonly Transition[];
}

export class Runtime {
  readonly waiters: Waiters;
  /** Counts by state and the instances needing a look, for the overview. */
  readonly tally: InstanceTally;
  private readonly queue: KeyedQueue<Work, Done>;
  private readonly batches: InstanceBatches;
  /** Removals together (retention) on their way to the store, which whenIdle waits for too. */
  private readonly removing = new Set<Promise<void>>();
  private readonly steps: StepRunner;
  private readonly effects: EffectRunner;
  private readonly quota: Quota;
  /** On a shared store, per instance, who follows its stored snapshot whoever changes it (watch streams). */
  private readonly storedWatchers = new Map<string, Set<(snapshot: Snapshot | undefined) => void>>();
  private readonly listeners = new Set<(change: Change) => void>();
  private readonly removalListeners = new Set<(removed: Snapshot) => void>();
  private readonly stopHooks = new Set<() => void>();
  private stopped = false;
  /** The effect runner follows the store from start() on. */
  private started = false;

  /** The runtime's source of time and timers, for whoever paces work by it (the watch stream's keep-alive). */
  get clock(): Clock {
    return this.options.clock;
  }

  constructor(private readonly options: RuntimeOptions) {
    const { follower } = options;
    this.waiters = new Waiters(options.clock);
    this.tally = new InstanceTally(() => options.clock.now(), follower !== undefined);
    const limit = options.maxInstances ?? DEFAULT_MAX_INSTANCES;
    this.quota = follower
      ? new SharedQuota(limit, (chart) => this.tally.counts(chart).total)
      : new InstanceQuota(limit, (chart) => options.store.count(INSTANCES, `${chart}/`));
    follower?.follow(INSTANCES, (key, read) => this.followStored(key, read), () => this.followAllStored());
    const batches = (this.batches = new InstanceBatches({
      store: options.store, clock: options.clock, alerter: options.alerter, quota: this.quota, shared: follower !== undefined,
      chart: (name) => this.chart(name), chartOf: (snapshot) => this.chartOf(snapshot), failurePrefix: (snapshot) => this.failurePrefix(snapshot),
      committed: (key, before, after, outcomes, reports) => this.afterCommit(key, before, after, outcomes, reports),
    }));
    // A batch's commit need not land before the next batch of the same instance is built on it.
    this.queue = new KeyedQueue((key, items, handed) => batches.process(key, items, handed));
    this.steps = new StepRunner(options.handlers, options.environment, options.log, options.onStep);
    this.effects = new EffectRunner({
      store: options.store, clock: options.clock, log: options.log, steps: this.steps,
      owner: options.owner ?? ownerId(), leaseMs: options.leaseMs ?? DEFAULT_LEASE_MS,
      // Straight to the queue: an instance keeps moving (a step's outcome) even if its chart stopped being served meanwhile.
      apply: (key, input, fence) => this.submitInput(key, input, fence),
      chartOf: (snapshot) => this.versionOrWarn(snapshot) ?? undefined,
      serves: (chart) => options.catalog.get(chart) !== undefined,
    });
  }

  /**
   * Resumes from what was committed: default instances, and the effects stored (overdue deadlines fire at once,
   * interrupted steps run again). Instances of charts not served are left as they are, named with their counts in one warning.
   */
  async start(): Promise<void> {
    const { catalog, store, log, clock } = this.options;
    const moved = await moveHistoryOut(store, INSTANCES);
    if (moved) log.info({ instances: moved }, 'moved the history of instances stored with it inside into its own collection');
    const derived = await deriveEffects(store, INSTANCES, clock.now());
    if (derived) log.info({ effects: derived }, 'derived the steps and deadlines active instances wait on from their snapshots (stored before effects were)');
    if (this.options.follower) await this.options.follower.resync(INSTANCES);
    else this.tally.reset(await readAll<Snapshot>(store, INSTANCES));
    await this.resume(catalog.names());
    await this.effects.start();
    this.started = true;
    const unserved = unservedInstances(this.tally.chartNames(), catalog.names(), (chart) => this.tally.counts(chart));
    if (unserved.length) {
      log.warn({ charts: unserved }, `the data directory holds instances of charts not served, left as they are: ${unserved.map(({ chart, active, finished }) => `${chart} (${active} active, ${finished} finished)`).join(', ')}; serve those charts (--chart) to resume them`);
    }
    log.info({ deadlines: this.effects.deadlines }, 'runtime resumed');
  }

  /**
   * Takes up the instances of charts just served (at start-up, or after a reload or apply that adds them): creates
   * the default instance of those that start by themselves; the effects their instances wait on are carried out.
   */
  async resume(charts: readonly string[]): Promise<void> {
    const { catalog, store } = this.options;
    for (const name of charts) {
      const chart = catalog.get(name);
      if (!chart) continue;
      if (!(await store.get(INSTANCES, instanceKey(name, DEFAULT_INSTANCE))) && this.startsByItself(chart)) {
        await this.create(name, DEFAULT_INSTANCE, {});
      }
    }
    if (this.started) await this.effects.rescan();
  }

  /** Why the effect runner cannot get deadlines (kind deadline) or step outcomes (kind step) applied. */
  effectFailure(kind: EffectKind): string | undefined {
    return this.effects.failure(kind);
  }

  /** Claims the effects due now: a start of the timers or steps service. */
  claimDueEffects(): void {
    this.effects.claimDue();
  }

  /** Other replicas change the store too. */
  get shared(): boolean {
    return this.options.follower !== undefined;
  }

  /**
   * On a shared store: calls `listener` with the instance's stored snapshot (undefined once removed) after each
   * change any replica commits, one at a time and never older than the one before.
   */
  watchStored(chart: string, id: string, listener: (snapshot: Snapshot | undefined) => void): () => void {
    const key = instanceKey(chart, id);
    let set = this.storedWatchers.get(key);
    if (!set) this.storedWatchers.set(key, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.storedWatchers.delete(key);
    };
  }

  /** Whether the store's last write landed (see Store.health). */
  storeHealth(): StoreHealth {
    return this.options.store.health();
  }

  /** Deadlines stored: timers, timeouts and retry waits. */
  get pendingTimers(): number {
    return this.effects.deadlines;
  }

  /** Step attempts running now. */
  get runningSteps(): number {
    return this.steps.active;
  }

  /** True once stop() began: parked long-polls were released because the server is going away. */
  get stopping(): boolean {
    return this.stopped;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiters.releaseAll();
    for (const hook of this.stopHooks) hook();
    await this.effects.stop();
    await this.whenIdle();
    await this.options.alerter.stop();
  }

  /** Resolves once every input and removal handed in so far is committed and its effects claimed (deadlines due fired, steps started). */
  async whenIdle(): Promise<void> {
    do {
      await this.queue.whenIdle();
      await Promise.all(this.removing);
    } while (await this.effects.whenIdle());
  }

  /** Alerts recorded and not yet taken by the webhook (see AlertOutbox); undefined without a webhook. */
  alertHealth(): AlertHealth | undefined {
    return this.options.alerter.health();
  }

  /**
   * Sends the instance down its unhappy path at once (see transition's interrupt): its running step is stopped,
   * process group and all, and the cleanup steps that follow run. Resolves with the committed snapshot.
   */
  async interrupt(chart: string, id: string, reason: string): Promise<Snapshot> {
    return (await this.apply(chart, id, { type: 'interrupt', reason })).snapshot;
  }

  /**
   * Ends an active instance `cancelled` (see transition's cancel): its running step is stopped and the cleanup
   * steps its chart leads to run first. Resolves with the committed snapshot, still active while they run.
   */
  async cancel(chart: string, id: string, request: Request & { reason: string }): Promise<Snapshot> {
    const { reason, by, token } = request;
    const outcome = await this.apply(chart, id, { type: 'cancel', reason, ...(by ? { by } : {}), ...(token ? { token } : {}) });
    if (!outcome.accepted) throw new Conflict(outcome.reason ?? `instance ${id} cannot be cancelled`);
    return outcome.snapshot;
  }

  /**
   * Starts a finished instance over in the initial state of the chart's current version, with its context checked
   * against that version and the operator's settings bound now. Conflict while it is active.
   */
  async restart(chart: string, id: string, request: Request = {}): Promise<Snapshot> {
    const current = this.chart(chart);
    const context = this.options.inputs.check(current, (await this.snapshot(chart, id)).context);
    const settings = this.checkSettings(chart);
    const restart: Restart = { context, ...(settings ? { settings } : {}), ...request };
    const done = await this.queue.submit(instanceKey(chart, id), { kind: 'restart', chart: current, restart });
    if ('error' in done) throw done.error;
    if (!done.outcome.accepted) throw new Conflict(done.outcome.reason ?? `instance ${id} cannot be restarted`);
    return done.outcome.snapshot;
  }

  /** Removes a finished instance of a chart served; Conflict while it is active. Resolves with what was removed. */
  async remove(chart: string, id: string): Promise<Snapshot> {
    await this.snapshot(chart, id);
    return this.removeStored(instanceKey(chart, id));
  }

  /** Removes a finished instance by its key, whether its chart is served or not. */
  async removeStored(key: string): Promise<Snapshot> {
    const done = await this.queue.submit(key, { kind: 'remove' });
    if ('error' in done) throw done.error;
    return done.outcome.snapshot;
  }

  /**
   * Removes finished instances by key in one commit, whether their charts are served or not (retention). Those with
   * requests queued or under way are left out (named in `busy`), like those active again or gone.
   */
  removeStoredTogether(keys: readonly string[]): Promise<{ removed: Snapshot[]; busy: string[] }> {
    const removal = this.batches.removeTogether(keys, (key) => this.queue.has(key));
    // Followed for whenIdle only: the caller hears how it went.
    const settled = removal.then(() => undefined, () => undefined).finally(() => this.removing.delete(settled));
    this.removing.add(settled);
    return removal;
  }

  /** The names of the charts served, sorted. */
  chartNames(): string[] {
    return this.options.catalog.names();
  }

  /** The chart served under `name`, or undefined. */
  chartNamed(name: string): Chart | undefined {
    return this.options.catalog.get(name);
  }

  chart(name: string): Chart {
    const chart = this.options.catalog.get(name);
    if (!chart) throw new NotFound(`no chart named ${name}; GET /charts lists the charts served`);
    return chart;
  }

  /** The committed snapshot; NotFound names the chart and how to create one. One promise, no await of its own (the GET path). */
  snapshot(chart: string, id: string): Promise<Snapshot> {
    this.chart(chart);
    const key = instanceKey(chart, id);
    return this.options.store.get<Snapshot>(INSTANCES, key).then((stored) => {
      if (!stored) throw noInstance(key);
      return stored.value;
    });
  }

  /** The instance's snapshot, or undefined when the chart has no such instance. */
  async find(chart: string, id: string): Promise<Snapshot | undefined> {
    this.chart(chart);
    return (await this.options.store.get<Snapshot>(INSTANCES, instanceKey(chart, id)))?.value;
  }

  /** The transitions kept for the instance up to `snapshot` (the last HISTORY_LIMIT), oldest first. */
  history(snapshot: Snapshot): Promise<Transition[]> {
    return readHistory(this.options.store, instanceKey(snapshot.chart, snapshot.id), snapshot);
  }

  async instances(chart: string): Promise<Snapshot[]> {
    this.chart(chart);
    return readAll<Snapshot>(this.options.store, INSTANCES, `${chart}/`);
  }

  /** How many instances the chart has. */
  instanceCount(chart: string): Promise<number> {
    this.chart(chart);
    return this.options.store.count(INSTANCES, `${chart}/`);
  }

  /** Refuses a state that neither the chart nor any version its instances run on has (e.g. a list filter's typo). */
  checkState(chart: string, state: string): void {
    if (this.options.catalog.hasState(chart, state)) return;
    const known = Object.keys(this.chart(chart).states).join(', ');
    throw new BadRequest(`chart ${chart} has no state ${state} (its states: ${known})`);
  }

  /** Up to `limit` of the chart's instances in id order, after instance `after`; `next` is the id to go on from. */
  async instancePage(chart: string, query: { after?: string; limit: number; accept?: (snapshot: Snapshot) => boolean }): Promise<{ instances: Snapshot[]; next: string | undefined }> {
    this.chart(chart);
    const prefix = `${chart}/`;
    const page = await this.options.store.page<Snapshot>(INSTANCES, {
      prefix, limit: query.limit, ...(query.after !== undefined ? { after: prefix + query.after } : {}), ...(query.accept ? { accept: query.accept } : {}),
    });
    return { instances: page.documents.map(({ value }) => value), next: page.next?.slice(prefix.length) };
  }

  /**
   * Waits until the instance's snapshot satisfies `until` (resolving with it), or undefined when `ms` run out or
   * `signal` aborts. The snapshot is read again once the waiter is registered, so a change that landed after the
   * caller's read is never missed.
   */
  async waitFor(chart: string, id: string, until: (snapshot: Snapshot) => boolean, ms: number, signal?: AbortSignal): Promise<Snapshot | undefined> {
    const key = instanceKey(chart, id);
    const found = new AbortController();
    const waiting = this.waiters.wait(key, until, ms, signal ? AbortSignal.any([signal, found.signal]) : found.signal);
    const now = (await this.options.store.get<Snapshot>(INSTANCES, key))?.value;
    if (!now || !until(now)) return waiting;
    found.abort();
    await waiting;
    return now;
  }

  /** The chart version this instance runs on. */
  chartOf(snapshot: Snapshot): Chart {
    const chart = this.options.catalog.version(snapshot.chart, snapshot.version);
    if (!chart) throw new Error(`version ${snapshot.version} of chart ${snapshot.chart} is missing from the data directory`);
    return chart;
  }

  /** The batch answers NotFound for an instance that does not exist: no read of its own ahead of the queue. */
  async apply(chart: string, id: string, input: Input): Promise<Outcome> {
    this.chart(chart);
    return this.submitInput(instanceKey(chart, id), input);
  }

  private async submitInput(key: string, input: Input, fence?: Fence): Promise<Outcome> {
    const done = await this.queue.submit(key, { kind: 'input', input, ...(fence ? { fence } : {}) });
    if ('error' in done) throw done.error;
    return done.outcome;
  }

  /** Creates the instance, or returns the existing one with `created: false`. */
  async create(chart: string, id: string, context: Context, options: CreateOptions = {}): Promise<{ snapshot: Snapshot; created: boolean }> {
    const checked = this.options.inputs.check(this.chart(chart), context);
    const settings = this.checkSettings(chart, options.settings);
    const origin = { ...(settings ? { settings } : {}), ...(options.token ? { token: options.token } : {}) };
    const done = await this.queue.submit(instanceKey(chart, id), { kind: 'create', context: checked, origin });
    if ('error' in done) throw done.error;
    return { snapshot: done.outcome.snapshot, created: done.created };
  }

  /** The context as it would be stored: validated, with schema defaults filled in. */
  checkContext(chart: string, context: unknown): Context {
    return this.options.inputs.check(this.chart(chart), context);
  }

  /** The settings an instance would be stored with (see BoundSettings.forInstance); throws NotConfigured. */
  checkSettings(chart: string, extra?: Context): Context | undefined {
    return this.options.settings.forInstance(this.chart(chart), extra);
  }

  /** Required settings of `chart` that the operator's bound values leave out (the server still serves it). */
  missingSettings(chart: string): readonly string[] {
    return this.options.settings.missing(this.chart(chart));
  }

  onChange(listener: (change: Change) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Called with the last snapshot of each instance removed (DELETE, retention). */
  onRemove(listener: (removed: Snapshot) => void): () => void {
    this.removalListeners.add(listener);
    return () => this.removalListeners.delete(listener);
  }

  /** Called on stop, e.g. to end watch streams so the server can close. */
  onStop(hook: () => void): () => void {
    this.stopHooks.add(hook);
    return () => this.stopHooks.delete(hook);
  }

  /** The chart's failure_prefix for this instance; the loader lets it use only keys every instance has. */
  failurePrefix(snapshot: Snapshot): string {
    const template = this.chartOf(snapshot).failurePrefix;
    if (!template) return '';
    try {
      return String(renderValue(template, templateScope(snapshot)));
    } catch {
      // A value stored as null renders as missing: name the instance rather than print the template raw.
      return `${snapshot.chart} ${snapshot.id}`;
    }
  }

  /** Charts whose default instance exists from the start: no work to run and no required inputs. */
  private startsByItself(chart: Chart): boolean {
    return !Object.values(chart.states).some((state) => state.kind === 'step') && this.options.inputs.accepts(chart, {}) && this.options.settings.missing(chart).length === 0;
  }

  /**
   * The chart version an instance runs on; null (after a warning) when its archived text no longer loads, e.g. a
   * version that let a client choose a host: such an instance is left as it is rather than resumed or stopping start-up.
   */
  private versionOrWarn(snapshot: Snapshot): Chart | undefined | null {
    try {
      return this.options.catalog.version(snapshot.chart, snapshot.version);
    } catch (error) {
      this.options.log.warn({ chart: snapshot.chart, version: snapshot.version, instance: snapshot.id, err: (error as Error).message },
        'instance runs on a chart version that no longer loads; left as it is');
      return null;
    }
  }

  /** Persist, then act: alerts for every unhappy move, waiters and listeners told (the effect runner follows the store). */
  private afterCommit(key: string, before: Snapshot | undefined, after: Snapshot | undefined, outcomes: Outcome[], reports: readonly FailureReport[]): void {
    if (this.options.follower) this.tally.set(key, after);
    else this.tally.note(before, after);
    if (!after) {
      this.quota.removed(before!.chart);
      this.waiters.release(key);
      for (const listener of this.removalListeners) listener(before!);
      return;
    }
    this.options.alerter.raised(reports);
    this.waiters.notify(key, after);
    const recorded = outcomes.length === 1 ? outcomes[0]!.recorded : outcomes.flatMap((outcome) => outcome.recorded);
    for (const listener of this.listeners) listener({ before, after, recorded });
  }

  /** Another replica (or this one) changed instance `key`: the tally, long-polls and watch streams follow what is stored. */
  private async followStored(key: string, read: () => Promise<Stored<unknown> | undefined>): Promise<void> {
    const mark = this.waiters.mark();
    const snapshot = (await read())?.value as Snapshot | undefined;
    this.tally.set(key, snapshot);
    if (snapshot) this.waiters.notify(key, snapshot, mark);
    else this.waiters.release(key);
    for (const listener of this.storedWatchers.get(key) ?? []) listener(snapshot);
  }

  /** Anything may have changed (the change feed was lost for a while): count again, and look again at what is awaited. */
  private async followAllStored(): Promise<void> {
    this.tally.reset(await readAll<Snapshot>(this.options.store, INSTANCES));
    for (const key of new Set([...this.waiters.keys(), ...this.storedWatchers.keys()])) this.options.follower!.touch(INSTANCES, key);
  }
}

/** The charts with stored instances that are not served, with how many of them are active and finished. */
function unservedInstances(stored: readonly string[], served: readonly string[], counts: (chart: string) => Counts): { chart: string; active: number; finished: number }[] {
  return stored.filter((chart) => !served.includes(chart)).map((chart) => {
    const { active, total } = counts(chart);
    return { chart, active, finished: total - active };
  });
}

export function instanceKey(chart: string, id: string): string {
  return `${chart}/${id}`;
}
