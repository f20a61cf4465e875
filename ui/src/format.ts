// Times and sizes as people read them: local date and time, "4m 12s", "3 min ago", "1.2 MB".

const pad = (value: number): string => String(value).padStart(2, '0');

/** "2026-03-01 14:05:09" in the browser's time zone. */
export function dateTime(iso: string | number): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return String(iso);
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
}

/** "2d 3h", "1h 02m", "4m 12s", "12s", "0s". */
export function duration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  const [days, hours, minutes, rest] = [Math.floor(seconds / 86400), Math.floor(seconds / 3600) % 24, Math.floor(seconds / 60) % 60, seconds % 60];
  if (days) return `${days}d ${hours}h`;
  if (hours) return `${hours}h ${pad(minutes)}m`;
  if (minutes) return `${minutes}m ${pad(rest)}s`;
  return `${rest}s`;
}

/** "3m 12s ago" or "in 3m 12s". */
export function relative(iso: string | number, now: number): string {
  const delta = new Date(iso).getTime() - now;
  return delta >= 0 ? `in ${duration(delta)}` : `${duration(-delta)} ago`;
}

export function bytes(size: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = size;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
