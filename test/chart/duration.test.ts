// Durations and points in time as charts write them.
import { describe, expect, it } from 'vitest';
import { MAX_DURATION_LENGTH, parseDuration, parseInstant } from '../../src/chart/duration.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['10s', 10_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['2d', 172_800_000],
    ['1d2h3m4s5ms', 93_784_005],
    ['0s', 0],
    [' 1m ', 60_000],
  ])('%s is %i ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it('refuses bare numbers and says how to write a duration', () => {
    expect(() => parseDuration('10')).toThrow("duration '10' has no unit: write 10s, 5m or 1h");
    expect(() => parseDuration('1.5')).toThrow('write 10s, 5m or 1h');
  });

  it.each(['', 'ten seconds', '5 m', '1.5h', '10x', '-5s', 'h'])('refuses %j', (text) => {
    expect(() => parseDuration(text)).toThrow(/is not a duration: write a whole number and a unit/);
  });

  it('refuses repeated or misordered units', () => {
    expect(() => parseDuration('30m1h')).toThrow('write larger units first');
    expect(() => parseDuration('1m1m')).toThrow('write larger units first');
  });

  it('reads the longest duration that fits and refuses a longer text by its length, naming the limit', () => {
    expect(parseDuration('104249990d23h59m59s999ms')).toBe(9_007_199_222_399_999);
    expect(parseDuration(`${'0'.repeat(MAX_DURATION_LENGTH - 2)}1s`)).toBe(1000);
    expect(() => parseDuration(`${'0'.repeat(MAX_DURATION_LENGTH - 1)}1s`))
      .toThrow(`duration '00000000000000000000…' is 65 characters long; the limit is 64: write it with larger units, e.g. 1h30m`);
  });

  it('refuses a long run of digits at once: 15,000 of them cost ~0.2 s each when every digit started a scan', () => {
    const text = `${'1'.repeat(15_000)}x`;
    const started = performance.now();
    for (let round = 0; round < 100; round++) expect(() => parseDuration(text)).toThrow('the limit is 64');
    expect(performance.now() - started).toBeLessThan(100);
  });

  it('refuses what it always refused, whatever comes after the first mistake', () => {
    expect(() => parseDuration('30m1hx')).toThrow('is not a duration');
    expect(() => parseDuration('5s ')).not.toThrow();
  });
});

describe('parseInstant', () => {
  it('reads ISO-8601 with Z or an offset as that instant', () => {
    expect(parseInstant('2026-12-01T02:00:00Z')).toBe(Date.UTC(2026, 11, 1, 2));
    expect(parseInstant('2026-12-01T02:00:00+02:00')).toBe(Date.UTC(2026, 11, 1, 0));
    expect(parseInstant('2026-12-01T02:00:00-0130')).toBe(Date.UTC(2026, 11, 1, 3, 30));
    expect(parseInstant('2026-12-01T02:00:00.250Z')).toBe(Date.UTC(2026, 11, 1, 2, 0, 0, 250));
  });

  it("reads a naive time as this server's local time, as StateService did", () => {
    expect(parseInstant('3000-01-01T02:00:00')).toBe(new Date(3000, 0, 1, 2, 0, 0).getTime());
    expect(parseInstant('2026-06-15T12:30')).toBe(new Date(2026, 5, 15, 12, 30).getTime());
  });

  it('refuses dates that do not exist and text that is not a time', () => {
    expect(() => parseInstant('2026-02-30T00:00:00Z')).toThrow('is not a valid date and time');
    expect(() => parseInstant('2026-02-30T00:00:00')).toThrow('is not a valid local time');
    expect(() => parseInstant('2026-01-01T24:00:00Z')).toThrow('is not a valid date and time');
    expect(() => parseInstant('2026-12-01')).toThrow('write YYYY-MM-DDTHH:MM:SS');
    expect(() => parseInstant('tomorrow')).toThrow("'tomorrow' is not a time");
  });
});
