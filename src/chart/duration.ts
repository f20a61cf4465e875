// Time values in charts: durations ("1h30m") and points in time (ISO-8601, or naive = server-local like StateService).

const UNIT_MS: Readonly<Record<string, number>> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'];
/** Over twice as long as any duration that fits a safe integer of milliseconds, such as 104249990d23h59m59s999ms. */
export const MAX_DURATION_LENGTH = 64;
/** What parseDuration takes, as one regular expression for editors: units in falling order, each at most once. */
export const DURATION_PATTERN = '^\\s*(?=\\d)(\\d+d)?(\\d+h)?(\\d+m)?(\\d+s)?(\\d+ms)?\\s*$';
// Sticky: each part is matched where the previous one ended, so a long run of digits is read once, not once per start.
const PART = /(\d+)(ms|d|h|m|s)/y;

/** "500ms" "10s" "5m" "1h30m" "2d" -> milliseconds; throws an Error saying how to write it otherwise. */
export function parseDuration(text: string): number {
  const trimmed = String(text).trim();
  if (trimmed.length > MAX_DURATION_LENGTH) {
    throw new Error(`duration '${trimmed.slice(0, 20)}…' is ${trimmed.length} characters long; the limit is ${MAX_DURATION_LENGTH}: write it with larger units, e.g. 1h30m`);
  }
  if (/^\d+(\.\d+)?$/.test(trimmed)) {
    throw new Error(`duration '${trimmed}' has no unit: write 10s, 5m or 1h`);
  }
  const parts = durationParts(trimmed);
  if (!parts) {
    throw new Error(`'${trimmed}' is not a duration: write a whole number and a unit (ms, s, m, h, d), e.g. 500ms, 10s, 5m, 1h30m, 2d`);
  }
  let total = 0;
  let lastRank = -1;
  for (const [amount, unit] of parts) {
    const rank = UNIT_ORDER.indexOf(unit);
    if (rank <= lastRank) throw new Error(`duration '${trimmed}' repeats or misorders its units: write larger units first, e.g. 1h30m`);
    lastRank = rank;
    total += Number(amount) * (UNIT_MS[unit] ?? 0);
  }
  if (!Number.isSafeInteger(total)) throw new Error(`duration '${trimmed}' is too long`);
  return total;
}

/** The amount-and-unit parts that make up all of `text`, or undefined when it is anything else. */
function durationParts(text: string): [string, string][] | undefined {
  const parts: [string, string][] = [];
  for (let at = 0; at < text.length; at = PART.lastIndex) {
    PART.lastIndex = at;
    const part = PART.exec(text);
    if (!part) return undefined;
    parts.push([part[1]!, part[2]!]);
  }
  return parts.length ? parts : undefined;
}

export const INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(Z|[+-]\d{2}:?\d{2})?$/;

/**
 * "2026-12-01T02:00:00Z" or "+01:00" -> that instant; "2026-12-01T02:00:00" (no zone) -> that wall-clock
 * time on this server, as StateService's datetime.strptime/now() comparison meant. Returns epoch ms.
 */
export function parseInstant(text: string): number {
  const match = INSTANT.exec(String(text).trim());
  if (!match) {
    throw new Error(`'${text}' is not a time: write YYYY-MM-DDTHH:MM:SS, with Z or an offset such as +02:00 for a fixed instant, or without for this server's local time`);
  }
  const zone = match[8];
  const [year, month, day, hour, minute, second] = [1, 2, 3, 4, 5, 6].map((group) => Number(match[group] ?? 0)) as [number, number, number, number, number, number];
  const millis = Number((match[7] ?? '0').padEnd(3, '0'));
  if (zone === undefined) {
    const local = new Date(year, month - 1, day, hour, minute, second, millis);
    const exists = local.getFullYear() === year && local.getMonth() === month - 1 && local.getDate() === day
      && local.getHours() === hour && local.getMinutes() === minute && local.getSeconds() === second;
    if (!exists) throw new Error(`'${text}' is not a valid local time on this server (no such date, or skipped by a clock change)`);
    return local.getTime();
  }
  const utc = Date.UTC(year, month - 1, day, hour, minute, second, millis);
  const check = new Date(utc);
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new Error(`'${text}' is not a valid date and time`);
  }
  return utc - zoneOffsetMs(zone);
}

function zoneOffsetMs(zone: string): number {
  if (zone === 'Z') return 0;
  const digits = zone.slice(1).replace(':', '');
  const minutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2));
  return (zone.startsWith('-') ? -1 : 1) * minutes * 60_000;
}
