// Carries out the effects stored with the snapshots, once across replicas: claims due ones with a lease, runs the step or fires the deadline, commits the outcome fenced by the lease.

import type { IBackoffFactory } from 'cockatiel';
import type { Logger } from 'pino';
import type { Chart } from '../chart/model.js';
import type { Snapshot } from '../engine/snapshot.js';
import type { Input, Outcome } from '../engine/transition.js';
import { NotFound } from '../errors.js';
import { StoreError, unlessTaken, WriteConflict, type Change, type Fence, type Lease, type Store, type Stored } from '../store/port.js';
import { readAllStored } from '../store/readAll.js';
import { INSTANCES } from './batch.js';
import { Busy } from './busy.js';
import type { Clock } from './clock.js';
import { EFFECTS, stillOwed, type EffectRecord } from './effectRecords.js';
import { LeaseKeeper, type Held as HeldClaim } from './leaseKeeper.js';
import { retryOnClock } from './retryPolicy.js';
import { SerialPass } from './serialPass.js';
import type { StepRunner } from './steps.js';
import { Timers } from './timers.js';

export type EffectKind = 'deadline' | 'step';

export interface EffectRunnerOptions {
  readonly store: Store;
  readonly clock: Clock;
  readonly log: Logger;
  readonly steps: StepRunner;
  /** Who claims: this process alone, so a replica tells its claims from another's. */
  readonly owner: string;
  /** How long a claim holds without being renewed: a replica that stops renewing loses its work after this. */
  readonly leaseMs: number;
  /** Applies `input` through the instance's batches, committing it fenced by `fence`. */
  readonly apply: (instance: string, input: Input, fence: Fence) => Promise<Outcome>;
  /** The chart version a snapshot runs on; undefined (after a warning) when it cannot be had. */
  readonly chartOf: (snapshot: Snapshot) => Chart | undefined;
  /** Whether this process serves `chart`: the effects of charts it does not serve are left to those that do. */
  readonly serves: (chart: string) => boolean;
  readonly backoff?: IBackoffFactory<unknown>;
}

type Held = HeldClaim<EffectRecord>;

/** Effects claimed in one round trip; more are claimed at once when that many were due. */
const CLAIM_LIMIT = 64;

const WORDS: Readonly<Record<EffectKind, { readonly what: string; readonly many: string }>> = {
  deadline: { what: 'a deadline', many: 'deadlines' },
  step: { what: 'a step outcome', many: 'step outcomes' },
};

export class EffectRunner {
  /** When each effect known to come due later does: the runner sleeps until the soonest. */
  private readonly wake: Timers;
  private readonly known = new Map<string, EffectRecord>();
  /** Effects believed due and not yet claimed here: tried again a lease period later if another replica holds them. */
  private readonly due = new Set<string>();
  private readonly held: LeaseKeeper<EffectRecord>;
  private readonly failing: Record<EffectKind, Map<string, string>> = { deadline: new Map(), step: new Map() };
  /** Claims, reads and commits under way (not step handlers): what whenIdle waits for. */
  private readonly busy = new Busy();
  private readonly passes: SerialPass;
  private unsubscribe: (() => void) | undefined;
  private readonly shutdown = new AbortController();

  constructor(private readonly options: EffectRunnerOptions) {
    this.held = new LeaseKeeper({ ...options, collection: EFFECTS, what: 'effects' });
    this.passes = new SerialPass(() => this.busy.track(this.pass()), (error) => {
      this.options.log.warn({ err: error.message }, 'could not claim due effects; trying again after a lease period');
      this.retryDueLater();
    });
    this.wake = new Timers(options.clock, (key) => {
      this.due.add(key);
      this.kick();
    });
  }

  /** Learns what is stored, then follows the store's changes (every replica's) to know what comes due when. */
  async start(): Promise<void> {
    this.unsubscribe = this.options.store.onChange((changes) => this.changed(changes));
    await this.busy.track(this.rescan());
  }

  /** Reads every effect again: after charts were added to those served, or a service start. */
  rescan(): Promise<void> {
    return this.busy.track(this.readAll());
  }

  /** Claims what is due now, e.g. effects given up on whose claims have run out since: a start of the timers or steps service. */
  claimDue(): void {
    this.kick();
  }

  async stop(): Promise<void> {
    this.shutdown.abort(new Error('chartd is shutting down'));
    this.unsubscribe?.();
    this.wake.stop();
    this.held.stop();
    this.options.steps.stop();
    await this.whenIdle();
  }

  /** Waits until no claim, read, commit or renewal of claims is under way; answers whether there was one. */
  async whenIdle(): Promise<boolean> {
    const renewing = this.held.isRenewing();
    await this.held.renewed();
    return (await this.busy.settled()) || renewing;
  }

  /** Deadlines known to be stored: timers, timeouts and retry waits. */
  get deadlines(): number {
    let count = 0;
    for (const record of this.known.values()) if (record.effect.type === 'armTimer') count += 1;
    return count;
  }

  /** Why inputs of this kind are not being applied, or undefined when all of them were. */
  failure(kind: EffectKind): string | undefined {
    const failing = this.failing[kind];
    const [first] = failing;
    if (!first) return undefined;
    return `${failing.size} ${WORDS[kind].many} not applied (${first[0]}: ${first[1]})`;
  }

  private changed(changes: readonly Change[]): void {
    if (this.shutdown.signal.aborted) return;
    if (changes.length === 0) {
      void this.rescan().catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not read the stored effects again'));
      return;
    }
    // The last change of each effect: one that carries its document is taken as read, in the order heard.
    const latest = new Map<string, Change>();
    for (const change of changes) if (change.collection === EFFECTS) latest.set(change.key, change);
    if (!latest.size) return;
    const unread: string[] = [];
    for (const [key, { committed }] of latest) {
      if (committed === undefined) unread.push(key);
      else this.note(key, (committed ?? undefined) as Stored<EffectRecord> | undefined);
    }
    if (!unread.length) return;
    void this.busy.track(Promise.all(unread.map(async (key) => this.note(key, await this.options.store.get<EffectRecord>(EFFECTS, key)))).then(() => undefined))
      .catch((error: Error) => this.options.log.warn({ err: error.message }, 'could not read changed effects'));
  }

  private async readAll(): Promise<void> {
    const stored = await readAllStored<EffectRecord>(this.options.store, EFFECTS);
    const present = new Set(stored.map(({ key }) => key));
    for (const key of this.known.keys()) if (!present.has(key)) this.note(key, undefined);
    for (const document of stored) this.note(document.key, document);
  }

  /** What is stored under `key` now: a change under an effect being carried out here stops it (the instance moved on). */
  private note(key: string, stored: Stored<EffectRecord> | undefined): void {
    const held = this.held.get(key);
    if (held && (!stored || stored.revision !== held.claim.revision || JSON.stringify(stored.value) !== JSON.stringify(held.claim.value))) {
      held.stop.abort(new Error('the instance left this step'));
    }
    if (!stored) {
      this.known.delete(key);
      this.due.delete(key);
      this.wake.cancel(key);
      return;
    }
    this.known.set(key, stored.value);
    if (!this.options.serves(chartOf(stored.value.instance))) return;
    if (stored.value.due <= this.options.clock.now()) {
      this.due.add(key);
      this.kick();
    } else {
      this.wake.schedule(key, stored.value.due);
    }
  }

  /** One claiming pass at a time; a kick during one runs another after it. */
  private kick(): void {
    if (!this.shutdown.signal.aborted) this.passes.kick();
  }

  private async pass(): Promise<void> {
    const { store, clock, owner, leaseMs } = this.options;
    for (;;) {
      if (this.shutdown.signal.aborted) return;
      const now = clock.now();
      const claimed = await store.claim<EffectRecord>(EFFECTS, { owner, now, leaseMs, limit: CLAIM_LIMIT });
      for (const claim of claimed) this.carryOut(claim, now);
      if (claimed.length < CLAIM_LIMIT) break;
    }
    this.retryDueLater();
  }

  /** Due effects this pass did not get are held by another replica: looked at again once its lease could have run out. */
  private retryDueLater(): void {
    const later = this.options.clock.now() + this.options.leaseMs;
    for (const key of this.due) if (!this.held.has(key)) this.wake.schedule(key, later);
    this.due.clear();
  }

  private carryOut(claim: Stored<EffectRecord> & { lease: Lease }, now: number): void {
    // Left to a replica that serves the chart: the lease runs out unrenewed.
    if (!this.options.serves(chartOf(claim.value.instance))) return;
    this.due.delete(claim.key);
    const held = this.held.hold(claim, now);
    const work = claim.value.effect.type === 'runStep' ? this.runStep(held) : this.applyOutcome('deadline', held, { type: 'deadline', at: claim.value.effect.at });
    void work.catch((error: Error) => {
      this.options.log.error({ instance: claim.value.instance, effect: claim.key, err: error.message }, 'could not carry out an effect; it is claimed again once its lease runs out');
    }).finally(() => this.held.release(held));
  }

  private async runStep(held: Held): Promise<void> {
    const started = await this.busy.track(this.startStep(held));
    const result = await started?.running;
    if (result) await this.applyOutcome('step', held, { type: 'stepDone', ...result });
  }

  /** Starts the step its instance still owes; the promise is wrapped so the start, not the run, is what whenIdle waits for. */
  private async startStep(held: Held): Promise<{ running: ReturnType<StepRunner['run']> } | undefined> {
    const { value } = held.claim;
    const snapshot = (await this.options.store.get<Snapshot>(INSTANCES, value.instance))?.value;
    if (!snapshot || !stillOwed(value, snapshot)) {
      await this.dropMoot(held);
      return undefined;
    }
    const chart = this.options.chartOf(snapshot);
    if (!chart) return undefined;
    return { running: this.options.steps.run(value.instance, chart, snapshot, AbortSignal.any([held.stop.signal, this.shutdown.signal])) };
  }

  /**
   * Commits the input fenced by the claim; a store that refuses it is tried again under the one retry policy while
   * the claim holds. Each try, not the waits between them, is what whenIdle waits for.
   */
  private async applyOutcome(kind: EffectKind, held: Held, input: Input): Promise<void> {
    const { clock, log, backoff } = this.options;
    const { key, value, lease } = held.claim;
    const failing = this.failing[kind];
    try {
      const outcome = await retryOnClock(() => this.busy.track(this.options.apply(value.instance, input, { collection: EFFECTS, key, lease })), {
        clock, ...(backoff ? { backoff } : {}),
        signal: AbortSignal.any([held.stop.signal, this.shutdown.signal]),
        retryable: (error) => error instanceof StoreError,
        onRetry: (error, delay) => {
          failing.set(value.instance, (error as Error).message);
          log.error({ instance: value.instance, err: (error as Error).message, retryInMs: delay }, `could not apply ${WORDS[kind].what}; trying again`);
        },
      });
      failing.delete(value.instance);
      if (outcome.unchanged) await this.busy.track(this.dropMoot(held));
    } catch (error) {
      if (error instanceof WriteConflict) {
        failing.delete(value.instance);
        log.info({ instance: value.instance, effect: key }, 'the claim on an effect was lost before its outcome was committed; whoever holds it now carries it out');
        // Unless nobody does: looked at again once that claim could have run out too.
        if (this.known.has(key)) this.wake.schedule(key, this.options.clock.now() + this.options.leaseMs);
        return;
      }
      if (error instanceof NotFound) {
        failing.delete(value.instance);
        await this.busy.track(this.dropMoot(held));
        return;
      }
      failing.set(value.instance, (error as Error).message);
      log.error({ instance: value.instance, err: (error as Error).message }, `could not apply ${WORDS[kind].what}; it is tried again once its claim runs out`);
      this.wake.schedule(key, held.until);
    }
  }

  /** Deletes a claimed effect its instance no longer owes (gone, or moved on by a change this one raced), fenced by the claim. */
  private async dropMoot(held: Held): Promise<void> {
    const { key, value, revision, lease } = held.claim;
    const snapshot = (await this.options.store.get<Snapshot>(INSTANCES, value.instance))?.value;
    if (stillOwed(value, snapshot)) return;
    // Changed or taken over meanwhile: whoever did it answers for it now.
    await this.options.store.commit([{ collection: EFFECTS, key, value: null, expect: revision }], { fence: { collection: EFFECTS, key, lease } }).catch(unlessTaken);
  }

}

function chartOf(instance: string): string {
  return instance.slice(0, instance.indexOf('/'));
}
