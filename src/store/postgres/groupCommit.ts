// Group commit: commit() calls made while a transaction is in flight share the next one, each keeping its own outcome.

import { WriteConflict } from '../store.js';
import { classify } from './classify.js';
import type { Member } from './commitPlan.js';
import type { Verdicts } from './commitTransaction.js';

/** Writes in one transaction, at most (a single larger commit still goes alone). */
const MAX_GROUP_WRITES = 2_000;

interface Pending {
  readonly member: Member;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly issued: (() => void) | undefined;
}

export type CommitMembers = (members: readonly Member[]) => Promise<Verdicts>;

/**
 * One transaction in flight at a time, so a commit built on another this replica made earlier (expecting the
 * revision it leaves) always runs after it: in the same transaction, or in a later one.
 */
export class GroupCommit {
  private queue: Pending[] = [];
  private flushing: Promise<void> | undefined;
  /** commit() calls taken, and the groups they went in (each one transaction, unless refused and split). */
  readonly counts = { commits: 0, groups: 0 };

  constructor(private readonly commitMembers: CommitMembers) {}

  /** `issued` is called once the member's transaction has begun. */
  submit(member: Member, issued?: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ member, resolve, reject, issued });
      this.flushNext();
    });
  }

  /** Resolves once every commit submitted so far has its outcome. */
  async idle(): Promise<void> {
    while (this.flushing) await this.flushing;
  }

  private flushNext(): void {
    if (this.flushing || this.queue.length === 0) return;
    const group = this.takeGroup();
    for (const pending of group) pending.issued?.();
    this.flushing = this.flush(group).finally(() => {
      this.flushing = undefined;
      this.flushNext();
    });
  }

  private takeGroup(): Pending[] {
    let writes = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || writes + this.queue[count]!.member.writes.length <= MAX_GROUP_WRITES)) {
      writes += this.queue[count]!.member.writes.length;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  /** Never rejects: every outcome goes to its caller. */
  private async flush(group: readonly Pending[]): Promise<void> {
    this.counts.commits += group.length;
    this.counts.groups += 1;
    try {
      settle(group, await this.commitMembers(group.map(({ member }) => member)));
    } catch (error) {
      if (group.length === 1 || classify(error) === 'unavailable') {
        for (const pending of group) pending.reject(error);
        return;
      }
      // PostgreSQL refused the group (a value it cannot store?): each member alone, so only the culprit fails.
      for (const pending of group) {
        try {
          settle([pending], await this.commitMembers([pending.member]));
        } catch (alone) {
          pending.reject(alone);
        }
      }
    }
  }
}

function settle(group: readonly Pending[], verdicts: Verdicts): void {
  for (const [at, pending] of group.entries()) {
    const conflict = verdicts[at];
    if (conflict) pending.reject(new WriteConflict(conflict));
    else pending.resolve();
  }
}
