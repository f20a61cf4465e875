// Stored deadlines armed in memory: one min-heap and one clock timer, however many instances wait.

import type { Clock, ClockTimer } from './clock.js';

const MAX_TIMEOUT_MS = 2 ** 31 - 1;

interface Entry {
  readonly key: string;
  readonly at: number;
}

export class Timers {
  private readonly heap: Entry[] = [];
  /** The live deadline per key; heap entries that disagree are stale and skipped. */
  private readonly live = new Map<string, number>();
  private handle: ClockTimer | undefined;
  private armedFor = Infinity;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly fire: (key: string, at: number) => void,
  ) {}

  /** Arms (or re-arms) `key` for `at`; an overdue deadline fires on the next turn. */
  schedule(key: string, at: number): void {
    if (this.live.get(key) === at) return;
    this.live.set(key, at);
    this.push({ key, at });
    this.rearm();
  }

  cancel(key: string): void {
    this.live.delete(key);
  }

  get size(): number {
    return this.live.size;
  }

  stop(): void {
    this.stopped = true;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }

  private rearm(): void {
    if (this.stopped) return;
    const first = this.peekLive();
    if (!first) return;
    if (this.handle && first.at >= this.armedFor) return;
    if (this.handle) this.clock.clearTimeout(this.handle);
    this.armedFor = first.at;
    const delay = Math.min(MAX_TIMEOUT_MS, Math.max(0, first.at - this.clock.now()));
    this.handle = this.clock.setTimeout(() => this.onTimeout(), delay);
  }

  private onTimeout(): void {
    this.handle = undefined;
    this.armedFor = Infinity;
    const now = this.clock.now();
    for (let first = this.peekLive(); first && first.at <= now; first = this.peekLive()) {
      this.pop();
      this.live.delete(first.key);
      this.fire(first.key, first.at);
    }
    this.rearm();
  }

  private peekLive(): Entry | undefined {
    while (this.heap.length) {
      const top = this.heap[0]!;
      if (this.live.get(top.key) === top.at) return top;
      this.pop();
    }
    return undefined;
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (heap[parent]!.at <= entry.at) break;
      heap[index] = heap[parent]!;
      index = parent;
    }
    heap[index] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && heap[right]!.at < heap[left]!.at ? right : left;
      if (heap[child]!.at >= last.at) break;
      heap[index] = heap[child]!;
      index = child;
    }
    heap[index] = last;
  }
}
