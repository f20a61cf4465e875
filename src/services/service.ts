// The Service port: a background loop of chartd that the supervisor starts, watches and starts again when it fails.

export interface Service {
  /** Its name in GET /services and under services: in --values, e.g. alerts or zone:eu. */
  readonly name: string;
  /** Begins the work, or begins it again after a failure; rejects when it cannot (the service is then failed). */
  start(): Promise<void>;
  /** Ends what start() began; the supervisor calls it before starting a failed service again. */
  stop(): Promise<void>;
  /** Why the service cannot do its work right now, or undefined while it can. Read on every status request: no I/O. */
  failure(): string | undefined;
}

/** Deliveries (alerts, zone results) that fail this many times in a row make their service failed. */
export const FAILED_AFTER_ATTEMPTS = 3;

export type ServiceState = 'not_started' | 'starting' | 'running' | 'failed';

export interface ServiceStatus {
  readonly name: string;
  readonly state: ServiceState;
  /** ISO time the service entered `state`. */
  readonly since: string;
  /** The latest failure, kept after the service runs again. */
  readonly lastError?: { readonly message: string; readonly at: string };
  /** False when --values switched it off: it is not started and /readyz leaves it out. */
  readonly enabled: boolean;
  /** Whether the supervisor starts it again when it fails. */
  readonly keepAlive: boolean;
  /** Starts after the first one, by the supervisor. */
  readonly restarts: number;
  /** ISO time of the next start the supervisor has planned, while failed. */
  readonly nextStart?: string;
}

/** What readers of the services see (GET /services, /readyz, /overview, metrics). */
export interface ServiceBoard {
  statuses(): ServiceStatus[];
}

/** Every enabled service is running; the others' statuses say why not. */
export function readiness(statuses: readonly ServiceStatus[]): { readonly ready: boolean; readonly notRunning: ServiceStatus[] } {
  const notRunning = statuses.filter((status) => status.enabled && status.state !== 'running');
  return { ready: notRunning.length === 0, notRunning };
}
