// The supervisor: starts the enabled services, notices when one fails, and starts a failed one again after a growing wait.

import type { Logger } from 'pino';
import type { Clock, ClockTimer } from '../runtime/clock.js';
import type { Service, ServiceBoard, ServiceState, ServiceStatus } from './service.js';
import { ENABLED, type ServiceChoice, type ServicesConfig } from './servicesConfig.js';

export interface SupervisorOptions {
  readonly config: ServicesConfig;
  readonly clock: Clock;
  readonly log: Logger;
}

/** One service and what the supervisor knows of it. */
interface Life {
  readonly service: Service;
  readonly choice: ServiceChoice;
  state: ServiceState;
  since: number;
  lastError?: { readonly message: string; readonly at: number };
  /** A failed start stays failed until a start succeeds; a failure the service reports clears when the service says so. */
  failedIn?: 'start' | 'run';
  restarts: number;
  /** Failures since the service last ran a whole interval: the next wait is the interval times 2 to this power. */
  strikes: number;
  nextStart?: number;
  timer?: ClockTimer;
  /** The start under way, which stop() waits for. */
  starting?: Promise<void>;
}

export class Supervisor implements ServiceBoard {
  private readonly lives: Life[] = [];
  private watch: ClockTimer | undefined;
  private started = false;
  private stopped = false;

  constructor(private readonly options: SupervisorOptions) {}

  /** Adds a service; after start(), an enabled one is started at once. */
  add(service: Service): void {
    if (this.lives.some((life) => life.service.name === service.name)) throw new Error(`two services are named ${service.name}`);
    const life: Life = { service, choice: this.options.config.choices[service.name] ?? ENABLED, state: 'not_started', since: this.now(), restarts: 0, strikes: 0 };
    this.lives.push(life);
    if (this.started && !this.stopped) this.begin(life);
  }

  /** Starts every enabled service without waiting for them (GET /readyz says when they run), and watches them. */
  start(): void {
    if (this.started) return;
    this.started = true;
    for (const life of this.lives) this.begin(life);
    this.arm();
  }

  /** Plans no more starts and waits for those under way; each service is stopped by its owner as chartd closes. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.watch) this.options.clock.clearTimeout(this.watch);
    for (const life of this.lives) {
      if (life.timer) this.options.clock.clearTimeout(life.timer);
      life.timer = undefined;
    }
    await Promise.all(this.lives.map((life) => life.starting));
  }

  statuses(): ServiceStatus[] {
    for (const life of this.lives) this.lookAt(life);
    return this.lives.map((life) => statusOf(life));
  }

  private begin(life: Life): void {
    if (life.choice.enabled) this.launch(life, false);
    else this.options.log.info({ service: life.service.name }, `service ${life.service.name} is switched off (services: in --values); it is not started`);
  }

  private launch(life: Life, again: boolean): void {
    life.starting = this.run(life, again).finally(() => {
      life.starting = undefined;
    });
  }

  private async run(life: Life, again: boolean): Promise<void> {
    const { service } = life;
    this.enter(life, 'starting');
    try {
      if (again) await service.stop();
      await service.start();
    } catch (error) {
      this.fail(life, 'start', error instanceof Error ? error.message : String(error));
      return;
    }
    this.enter(life, 'running');
    if (again) this.options.log.info({ service: service.name, restarts: life.restarts }, `service ${service.name} started again`);
    this.lookAt(life);
  }

  /** Moves a running service that reports a failure to failed, and a failed one whose failure has cleared back to running. */
  private lookAt(life: Life): void {
    if (life.state === 'running') {
      const failure = life.service.failure();
      if (failure !== undefined) this.fail(life, 'run', failure);
    } else if (life.state === 'failed' && life.failedIn === 'run' && life.service.failure() === undefined) {
      if (life.timer) this.options.clock.clearTimeout(life.timer);
      life.timer = undefined;
      this.enter(life, 'running');
      this.options.log.info({ service: life.service.name }, `service ${life.service.name} works again`);
    }
  }

  private fail(life: Life, where: 'start' | 'run', message: string): void {
    const { log, config, clock } = this.options;
    const name = life.service.name;
    life.failedIn = where;
    life.lastError = { message, at: this.now() };
    this.enter(life, 'failed');
    if (!life.choice.keepAlive || this.stopped) {
      log.warn({ service: name, err: message }, `service ${name} failed${this.stopped ? '' : '; it is not kept alive (keep_alive: false), so it stays failed'}`);
      return;
    }
    const delay = Math.min(config.maxIntervalMs, config.intervalMs * 2 ** life.strikes);
    life.strikes += 1;
    life.nextStart = this.now() + delay;
    log.warn({ service: name, err: message, restartInMs: delay }, `service ${name} failed; it is started again in ${delay} ms`);
    life.timer = clock.setTimeout(() => {
      life.timer = undefined;
      if (this.stopped || life.state !== 'failed') return;
      life.restarts += 1;
      this.launch(life, true);
    }, delay);
  }

  private enter(life: Life, state: ServiceState): void {
    life.state = state;
    life.since = this.now();
    if (state !== 'failed') life.nextStart = undefined;
  }

  /** Every interval: look at each service, and forgive the past failures of one that has run a whole interval since. */
  private arm(): void {
    const { clock, config } = this.options;
    this.watch = clock.setTimeout(() => {
      if (this.stopped) return;
      for (const life of this.lives) {
        this.lookAt(life);
        if (life.state === 'running' && this.now() - life.since >= config.intervalMs) life.strikes = 0;
      }
      this.arm();
    }, config.intervalMs);
  }

  private now(): number {
    return this.options.clock.now();
  }
}

function statusOf(life: Life): ServiceStatus {
  const iso = (at: number): string => new Date(at).toISOString();
  return {
    name: life.service.name,
    state: life.state,
    since: iso(life.since),
    ...(life.lastError ? { lastError: { message: life.lastError.message, at: iso(life.lastError.at) } } : {}),
    enabled: life.choice.enabled,
    keepAlive: life.choice.keepAlive,
    restarts: life.restarts,
    ...(life.nextStart !== undefined ? { nextStart: iso(life.nextStart) } : {}),
  };
}
