// The change feed: LISTEN on a connection of its own, reconnecting when it is lost, so every replica hears every commit.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { repeatOnClock, type Clock, type ClockTimer } from '../../runtime/clock.js';
import type { StoreLog } from '../lock.js';
import type { Change, ChangeListener } from '../port.js';
import { barrierChannel, CHANNEL, decodeChanges, type Heard } from './changes.js';
import { connectionConfig } from './database.js';
import type { PostgresSettings } from './settings.js';

/** Reconnection waits this long at first, doubling up to MAX_BACKOFF_MS while PostgreSQL stays away. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** A query this often proves the connection alive: a cut network ends no session, and keepalive takes minutes. */
const HEARTBEAT_MS = 10_000;
// A barrier's NOTIFY needs no flush to disk: it only marks a place in the commit order, and waits for none.
const BARRIER_SQL = { name: 'chartd_barrier', text: `SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, $2)` };

/** What the store does with what the feed hears, in the order PostgreSQL delivers it, before any listener. */
export interface FeedObserver {
  /** A commit, this store's own included: answers what listeners are told of another replica's. */
  heard(heard: Heard): readonly Change[];
  /** One of this store's read barriers came back. */
  barrier(payload: string): void;
  /** Not listening any more: commits from now on go unheard until back(). */
  lost(): void;
  /** Listening again (or for the first time, at start); called before listeners are told anything may have changed. */
  back(): void;
}

export interface ChangeFeedOptions {
  /** Times the reconnections, the heartbeat, and how long the feed was lost. */
  readonly clock: Clock;
  readonly observer?: FeedObserver;
  /** Commits naming it are left out for listeners: their store tells them itself (tell()). */
  readonly origin?: string;
}

const UNOBSERVED: FeedObserver = { heard: (heard) => heard.changes, barrier: () => {}, lost: () => {}, back: () => {} };

export class ChangeFeed {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<ChangeListener>();
  /** Since when (clock time), and why, the feed is not listening. */
  private lost: { readonly at: number; readonly problem: string } | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  private retry: ClockTimer | undefined;
  /** Stops the heartbeat on the connection listening now. */
  private stopHeartbeat: () => void = () => {};
  private closed = false;

  private readonly clock: Clock;
  private readonly observer: FeedObserver;
  readonly origin: string;

  private constructor(private readonly settings: PostgresSettings, private readonly log: StoreLog, options: ChangeFeedOptions) {
    this.clock = options.clock;
    this.observer = options.observer ?? UNOBSERVED;
    this.origin = options.origin ?? randomBytes(9).toString('base64url');
  }

  /** Resolves once listening, so no commit made after it is missed. */
  static async start(settings: PostgresSettings, log: StoreLog, options: ChangeFeedOptions): Promise<ChangeFeed> {
    const feed = new ChangeFeed(settings, log, options);
    await feed.listen();
    feed.observer.back();
    return feed;
  }

  /** Whether the feed listens now: every commit from now on will be heard, in commit order. */
  listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * Commits read barrier `number` on the feed's own connection: a NOTIFY on this store's channel, delivered back on
   * that connection after every notification of a transaction that committed before it. No pooled connection is
   * taken, and the notification comes back with the answer.
   */
  async sendBarrier(number: number): Promise<void> {
    const client = this.client;
    if (!client) throw new Error('the change feed is not listening');
    try {
      await client.query({ ...BARRIER_SQL, values: [barrierChannel(this.origin), String(number)] });
    } catch (error) {
      // A connection that cannot carry a barrier (timed out, refused) is not trusted to deliver changes either.
      this.drop(client, error as Error);
      throw error;
    }
  }

  /** The feed is not to be trusted (a barrier did not come back in time): listen again on a new connection. */
  abandon(why: string): void {
    if (this.client) this.drop(this.client, new Error(why));
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Why the feed is down, while it is: waiters on this replica hear of other replicas' commits only once it is back. */
  problem(): { readonly problem: string; readonly since: string } | undefined {
    return this.lost && { problem: this.lost.problem, since: new Date(this.lost.at).toISOString() };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) this.clock.clearTimeout(this.retry);
    this.stopHeartbeat();
    const client = this.client;
    this.client = undefined;
    await client?.end();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client(connectionConfig(this.settings));
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('the connection ended')));
    const barriers = barrierChannel(this.origin);
    client.on('notification', (message) => {
      if (message.channel === barriers) return this.observer.barrier(message.payload ?? '');
      if (message.channel !== CHANNEL) return;
      const heard = decodeChanges(message.payload);
      const told = this.observer.heard(heard);
      if (heard.origin !== this.origin) this.emit(told);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}; LISTEN "${barriers}"`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) return void (await client.end());
    this.client = client;
    // A connection gone silent (a network cut without a reset) shows itself when a query on it fails.
    this.stopHeartbeat = repeatOnClock(this.clock, HEARTBEAT_MS, () => {
      client.query('SELECT 1').then(undefined, (error: unknown) => this.drop(client, error as Error));
    });
  }

  /** `client` failed: forget it and listen again, after a pause that grows while PostgreSQL stays away. */
  private drop(client: pg.Client, error: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    this.stopHeartbeat();
    // What it still delivers would follow a gap: the observer starts afresh from back().
    client.removeAllListeners('notification');
    // Ending a broken client only closes its socket; its failure is the error being handled here.
    client.end().catch(() => undefined);
    this.observer.lost();
    this.lost = { at: this.lost?.at ?? this.clock.now(), problem: this.lostBecause(error) };
    this.log('warn', this.lost.problem);
    this.scheduleListen();
  }

  private scheduleListen(): void {
    if (this.closed) return;
    this.retry = this.clock.setTimeout(() => {
      this.listen().then(() => {
        if (this.closed) return;
        this.log('info', `the change feed from PostgreSQL at ${this.settings.shown} is back after ${this.clock.now() - this.lost!.at} ms`);
        this.lost = undefined;
        this.backoffMs = MIN_BACKOFF_MS;
        this.observer.back();
        // Commits made while the feed was away were not heard: whoever waits must look again.
        this.emit([]);
      }, (error: unknown) => {
        // Said by health() rather than logged: a PostgreSQL away for a minute would fill the log.
        this.lost = { at: this.lost?.at ?? this.clock.now(), problem: this.lostBecause(error as Error) };
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
        this.scheduleListen();
      });
    }, this.backoffMs);
  }

  private lostBecause(error: Error): string {
    return `the change feed from PostgreSQL at ${this.settings.shown} is lost (${error.message}); it reconnects by itself`;
  }

  /** This store's own commit landed: its listeners hear it at once, with the documents as it left them. */
  tell(changes: readonly Change[]): void {
    if (changes.length) this.emit(changes);
  }

  private emit(changes: readonly Change[]): void {
    for (const listener of this.listeners) {
      try {
        listener(changes);
      } catch (error) {
        this.log('warn', `a change listener failed: ${(error as Error).stack ?? String(error)}`);
      }
    }
  }
}
