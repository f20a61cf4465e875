// repeatOnClock: a tick every interval of the clock's time, armed as the one before fires, and none once stopped.
import { describe, expect, it } from 'vitest';
import { repeatOnClock } from '../../src/runtime/clock.js';
import { SimulatedClock } from '../support/clock.js';

describe('repeatOnClock', () => {
  it('ticks at each interval of the clock and not between; stopped, it ticks no more and leaves no timer', async () => {
    const clock = new SimulatedClock();
    const ticks: number[] = [];
    const start = clock.now();
    const stop = repeatOnClock(clock, 10_000, () => ticks.push(clock.now() - start));
    await clock.advance(9_999);
    expect(ticks).toEqual([]);
    await clock.advance(30_001);
    expect(ticks).toEqual([10_000, 20_000, 30_000, 40_000]);
    expect(clock.timers).toBe(1);
    stop();
    expect(clock.timers).toBe(0);
    await clock.advance(60_000);
    expect(ticks).toHaveLength(4);
  });

  it('stopped from within its own tick, arms no next one', async () => {
    const clock = new SimulatedClock();
    let ticks = 0;
    const stop = repeatOnClock(clock, 1_000, () => {
      ticks += 1;
      stop();
    });
    await clock.advance(5_000);
    expect(ticks).toBe(1);
    expect(clock.timers).toBe(0);
  });
});
