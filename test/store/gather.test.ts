// BatchTarget: how many commits a batch waits for, and when the wait ends.
import { describe, expect, it } from 'vitest';
import { BatchTarget } from '../../src/store/gather.js';

/** Counts event-loop turns from now on, until stopped. */
function turnCounter(): { readonly turns: () => number; readonly stop: () => void } {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running) return;
    turns += 1;
    setImmediate(tick);
  };
  setImmediate(tick);
  return { turns: () => turns, stop: () => (running = false) };
}

describe('BatchTarget', () => {
  it('aims at half the most commits seen queued or in flight together, and follows a drop in load after two windows', () => {
    const target = new BatchTarget();
    expect(target.size).toBe(1);
    target.dispatched(16, 0);
    expect(target.size).toBe(8);
    target.dispatched(5, 10);
    expect(target.size).toBe(8);
    target.dispatched(9, 8);
    expect(target.size).toBe(8);
    // 64 writes per window: the peak of 17 holds through this window and the next.
    for (let write = 3; write < 128; write += 1) target.dispatched(2, 2);
    expect(target.size).toBe(2);
    for (let write = 0; write < 64; write += 1) target.dispatched(1, 0);
    expect(target.size).toBe(1);
  });

  it('sends a batch the moment a commit fills it, in the middle of the turn', async () => {
    const target = new BatchTarget();
    target.dispatched(16, 0);
    let queued = 0;
    const turns = turnCounter();
    const filled = target.fill(() => queued, false, 1000);
    for (queued = 1; queued <= 8; queued += 1) target.joined(queued);
    await filled;
    expect(turns.turns()).toBe(0);
    turns.stop();
  });

  it('waits whole turns for a batch that is not full, up to its time limit', async () => {
    const target = new BatchTarget();
    target.dispatched(16, 0);
    const limited = turnCounter();
    await target.fill(() => 3, false, 1000);
    // Never full: it gives up after sixteen turns (or the time limit, whichever comes first).
    expect(limited.turns()).toBeGreaterThanOrEqual(15);
    expect(limited.turns()).toBeLessThanOrEqual(17);
    limited.stop();
    let queued = 3;
    const turns = turnCounter();
    const filled = target.fill(() => queued, false, 1000);
    setImmediate(() => {
      queued = 8;
    });
    await filled;
    expect(turns.turns()).toBeGreaterThanOrEqual(1);
    turns.stop();
  });

  it('lets a lone commit wait out the turn, and longer while another write is on its way', async () => {
    const target = new BatchTarget();
    const idle = turnCounter();
    const alone = target.fill(() => 1, false, 1000);
    target.joined(1);
    await alone;
    const idleTurns = idle.turns();
    idle.stop();
    expect(idleTurns).toBeGreaterThanOrEqual(1);
    expect(idleTurns).toBeLessThanOrEqual(2);

    const busy = turnCounter();
    await target.fill(() => 1, true, 1000);
    const busyTurns = busy.turns();
    busy.stop();
    expect(busyTurns).toBeGreaterThanOrEqual(15);
  });
});
