// Which services run and are kept alive, and the supervisor's back-off: the supervisor: and services: sections of --values.

import { parseDuration } from '../chart/duration.js';
import { didYouMean, type ProblemLog } from '../chart/problem.js';
import { isRecord } from '../chart/yamlSource.js';

export interface ServiceChoice {
  /** False: not started (only services whose work can wait may be switched off). */
  readonly enabled: boolean;
  /** False: left failed until chartd restarts, unless it recovers by itself. */
  readonly keepAlive: boolean;
}

export interface ServicesConfig {
  /** How often the supervisor looks at the services, and its first wait before starting a failed one again. */
  readonly intervalMs: number;
  /** The longest wait between starts of a service that keeps failing (the wait doubles after each). */
  readonly maxIntervalMs: number;
  readonly choices: Readonly<Record<string, ServiceChoice>>;
}

export const DEFAULT_SERVICES: ServicesConfig = { intervalMs: 10_000, maxIntervalMs: 5 * 60_000, choices: {} };

export const ENABLED: ServiceChoice = { enabled: true, keepAlive: true };

/** Every service chartd has; `off` says what switching it off means, or why it may not be. */
const KNOWN: Readonly<Record<string, { readonly off: { readonly may: boolean; readonly why: string } }>> = {
  checkpointer: { off: { may: false, why: 'without checkpoints the journals grow until the disk is full' } },
  timers: { off: { may: false, why: 'deadlines would never fire' } },
  steps: { off: { may: false, why: 'steps would never run' } },
  alerts: { off: { may: true, why: 'alerts are recorded and wait in the store until it is enabled' } },
  'backup-controller': { off: { may: false, why: 'start chartd without --backup-config instead' } },
  'job-service': { off: { may: false, why: 'the backup controller asks it about every request; name another in --backup-config instead' } },
  'zone-outbox': { off: { may: true, why: 'results wait in the zone\'s store until it is enabled' } },
};
/** A backup controller's link to one of its zones: zone:NAME. */
const ZONE_LINK = /^zone:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const ZONE_LINK_OFF = { may: false, why: 'the backup controller sends it orders; remove the zone from --backup-config instead' };

const SUPERVISOR_KEYS = ['backoff_interval', 'max_backoff'];
const CHOICE_KEYS = ['enabled', 'keep_alive'];

/** Reads the two sections of a values file, adding each problem to `log`; defaults for what they leave out. */
export function readServicesConfig(supervisor: unknown, services: unknown, log: ProblemLog): ServicesConfig {
  const intervals = readSupervisor(supervisor ?? {}, log);
  const choices: Record<string, ServiceChoice> = {};
  if (!isRecord(services ?? {})) {
    log.add('services', 'services maps a service name to its choices, e.g. services: { alerts: { enabled: false }, job-service: { keep_alive: false } }');
    return { ...intervals, choices };
  }
  for (const [name, choice] of Object.entries((services ?? {}) as Record<string, unknown>)) {
    const path = `services.${name}`;
    const off = KNOWN[name]?.off ?? (ZONE_LINK.test(name) ? ZONE_LINK_OFF : undefined);
    if (!off) {
      log.add(path, `chartd has no service ${name}${didYouMean(name, Object.keys(KNOWN))}; its services are ${Object.keys(KNOWN).join(', ')} and zone:NAME for each zone of --backup-config`);
      continue;
    }
    if (!isRecord(choice)) {
      log.add(path, `give ${name}'s choices as a mapping, e.g. ${name}: { keep_alive: false }`);
      continue;
    }
    for (const [key, value] of Object.entries(choice)) {
      if (!CHOICE_KEYS.includes(key)) log.add(`${path}.${key}`, `unknown key '${key}'${didYouMean(key, CHOICE_KEYS)}; a service takes enabled: and keep_alive: (true or false)`);
      else if (typeof value !== 'boolean') log.add(`${path}.${key}`, `${key} is true or false, not ${JSON.stringify(value)}`);
    }
    const enabled = choice['enabled'] !== false;
    if (!enabled && !off.may) log.add(`${path}.enabled`, `${name} cannot be switched off: ${off.why}`);
    choices[name] = { enabled, keepAlive: choice['keep_alive'] !== false };
  }
  return { ...intervals, choices };
}

function readSupervisor(section: unknown, log: ProblemLog): Pick<ServicesConfig, 'intervalMs' | 'maxIntervalMs'> {
  if (!isRecord(section)) {
    log.add('supervisor', 'supervisor takes backoff_interval: and max_backoff:, e.g. supervisor: { backoff_interval: 10s, max_backoff: 5m }');
    return DEFAULT_SERVICES;
  }
  for (const key of Object.keys(section)) {
    if (!SUPERVISOR_KEYS.includes(key)) log.add(`supervisor.${key}`, `unknown key '${key}'${didYouMean(key, SUPERVISOR_KEYS)}; the supervisor takes backoff_interval: and max_backoff:`);
  }
  const duration = (key: string, fallback: number): number => {
    const text = section[key];
    if (text === undefined) return fallback;
    try {
      const ms = parseDuration(String(text));
      if (ms > 0) return ms;
      log.add(`supervisor.${key}`, `${key} must be longer than 0s`);
    } catch (error) {
      log.add(`supervisor.${key}`, (error as Error).message);
    }
    return fallback;
  };
  const intervalMs = duration('backoff_interval', DEFAULT_SERVICES.intervalMs);
  const maxIntervalMs = duration('max_backoff', Math.max(intervalMs, DEFAULT_SERVICES.maxIntervalMs));
  if (maxIntervalMs < intervalMs) log.add('supervisor.max_backoff', `max_backoff (${maxIntervalMs} ms) is shorter than backoff_interval (${intervalMs} ms); give one at least as long`);
  return { intervalMs, maxIntervalMs };
}
