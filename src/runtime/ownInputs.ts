// Inputs the runtime makes itself (a deadline came due, a step finished), applied again while the store refuses them; those not applied are the timers' and steps' failures.

import type { Logger } from 'pino';
import type { Input } from '../engine/transition.js';
import { NotFound } from '../errors.js';
import { StoreError } from '../store/store.js';
import type { Clock, ClockTimer } from './clock.js';

export type OwnKind = 'deadline' | 'step';

/** The first wait before a refused input is applied again, and the longest. */
const RETRY_FIRST_MS = 1000;
const RETRY_MAX_MS = 60_000;

const WORDS: Readonly<Record<OwnKind, { readonly what: string; readonly many: string; readonly onRestart: string }>> = {
  deadline: { what: 'a deadline', many: 'deadlines', onRestart: 'it fires again when the timers start again' },
  step: { what: 'a step outcome', many: 'step outcomes', onRestart: 'the step runs again when the steps start again' },
};

export interface OwnInputsOptions {
  readonly apply: (key: string, input: Input) => Promise<unknown>;
  readonly clock: Clock;
  readonly log: Logger;
}

interface Unapplied {
  readonly error: string;
  /** Given up: only a start of its service (or of chartd) tries it again. */
  readonly givenUp: boolean;
}

export class OwnInputs {
  private readonly retries = new Set<ClockTimer>();
  private readonly unapplied: Record<OwnKind, Map<string, Unapplied>> = { deadline: new Map(), step: new Map() };
  private stopped = false;

  constructor(private readonly options: OwnInputsOptions) {}

  /**
   * Applies the input. While the store refuses it (a full disk, say) it is tried again, waiting longer each time,
   * so the instance moves on once the disk is fixed; a stale retry changes nothing. Anything else leaves it to the
   * next start of its service; an instance that is gone needs nothing.
   */
  submit(kind: OwnKind, key: string, input: Input, attempt = 0): void {
    const { log, clock } = this.options;
    const words = WORDS[kind];
    this.options.apply(key, input).then(() => {
      this.unapplied[kind].delete(key);
    }, (error: Error) => {
      if (error instanceof NotFound) {
        this.unapplied[kind].delete(key);
        return;
      }
      const retrying = error instanceof StoreError && !this.stopped;
      this.unapplied[kind].set(key, { error: error.message, givenUp: !retrying });
      if (!retrying) {
        log.error({ instance: key, err: error.message }, `could not apply ${words.what}; ${words.onRestart}`);
        return;
      }
      const delay = Math.min(RETRY_MAX_MS, RETRY_FIRST_MS * 2 ** attempt);
      log.error({ instance: key, err: error.message, retryInMs: delay }, `could not apply ${words.what}; trying again`);
      const retry = clock.setTimeout(() => {
        this.retries.delete(retry);
        if (!this.stopped) this.submit(kind, key, input, attempt + 1);
      }, delay);
      this.retries.add(retry);
    });
  }

  /** Instances whose input of this kind was given up, forgotten here: the caller derives each again from the store. */
  takeGivenUp(kind: OwnKind): string[] {
    const keys = [...this.unapplied[kind]].filter(([, unapplied]) => unapplied.givenUp).map(([key]) => key);
    for (const key of keys) this.unapplied[kind].delete(key);
    return keys;
  }

  /** Why inputs of this kind are not being applied, or undefined when all of them were. */
  failure(kind: OwnKind): string | undefined {
    const failing = this.unapplied[kind];
    const [first] = failing;
    if (!first) return undefined;
    const [key, { error }] = first;
    return `${failing.size} ${WORDS[kind].many} not applied (${key}: ${error})`;
  }

  stop(): void {
    this.stopped = true;
    for (const retry of this.retries) this.options.clock.clearTimeout(retry);
    this.retries.clear();
  }
}
