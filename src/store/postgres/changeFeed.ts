// The change feed: LISTEN on a connection of its own, reconnecting when it is lost, so every replica hears every commit.

import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { StoreLog } from '../lock.js';
import type { Change, ChangeListener } from '../port.js';
import { CHANNEL, decodeChanges } from './changes.js';
import { connectionConfig } from './database.js';
import type { PostgresSettings } from './settings.js';

/** Reconnection waits this long at first, doubling up to MAX_BACKOFF_MS while PostgreSQL stays away. */
const MIN_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;
/** A query this often proves the connection alive: a cut network ends no session, and keepalive takes minutes. */
const HEARTBEAT_MS = 10_000;

export class ChangeFeed {
  private client: pg.Client | undefined;
  private readonly listeners = new Set<ChangeListener>();
  /** Since when, and why, the feed is not listening. */
  private lost: { readonly at: Date; readonly problem: string } | undefined;
  private backoffMs = MIN_BACKOFF_MS;
  private retry: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly settings: PostgresSettings, private readonly log: StoreLog, private readonly onBack: () => void, readonly origin: string) {}

  /**
   * Resolves once listening, so no commit made after it is missed. `onBack` is called each time it listens again
   * after a loss. Commits naming `origin` are left out: their store tells them itself (tell()), values included.
   */
  static async start(settings: PostgresSettings, log: StoreLog, onBack: () => void = () => {}, origin = randomBytes(9).toString('base64url')): Promise<ChangeFeed> {
    const feed = new ChangeFeed(settings, log, onBack, origin);
    await feed.listen();
    return feed;
  }

  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Why the feed is down, while it is: waiters on this replica hear of other replicas' commits only once it is back. */
  problem(): { readonly problem: string; readonly since: string } | undefined {
    return this.lost && { problem: this.lost.problem, since: this.lost.at.toISOString() };
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    clearInterval(this.heartbeat);
    const client = this.client;
    this.client = undefined;
    await client?.end();
  }

  private async listen(): Promise<void> {
    const client = new pg.Client(connectionConfig(this.settings));
    client.on('error', (error) => this.drop(client, error));
    client.on('end', () => this.drop(client, new Error('the connection ended')));
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL) return;
      const heard = decodeChanges(message.payload);
      if (heard.origin !== this.origin) this.emit(heard.changes);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      await client.end().catch(() => undefined);
      throw error;
    }
    if (this.closed) return void (await client.end());
    this.client = client;
    this.heartbeat = setInterval(() => {
      client.query('SELECT 1').then(undefined, (error: unknown) => this.drop(client, error as Error));
    }, HEARTBEAT_MS).unref();
  }

  /** `client` failed: forget it and listen again, after a pause that grows while PostgreSQL stays away. */
  private drop(client: pg.Client, error: Error): void {
    if (client !== this.client) return;
    this.client = undefined;
    clearInterval(this.heartbeat);
    // Ending a broken client only closes its socket; its failure is the error being handled here.
    client.end().catch(() => undefined);
    this.lost = { at: this.lost?.at ?? new Date(), problem: this.lostBecause(error) };
    this.log('warn', this.lost.problem);
    this.scheduleListen();
  }

  private scheduleListen(): void {
    if (this.closed) return;
    this.retry = setTimeout(() => {
      this.listen().then(() => {
        if (this.closed) return;
        this.log('info', `the change feed from PostgreSQL at ${this.settings.shown} is back after ${Date.now() - this.lost!.at.getTime()} ms`);
        this.lost = undefined;
        this.backoffMs = MIN_BACKOFF_MS;
        this.onBack();
        // Commits made while the feed was away were not heard: whoever waits must look again.
        this.emit([]);
      }, (error: unknown) => {
        // Said by health() rather than logged: a PostgreSQL away for a minute would fill the log.
        this.lost = { at: this.lost?.at ?? new Date(), problem: this.lostBecause(error as Error) };
        this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
        this.scheduleListen();
      });
    }, this.backoffMs).unref();
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
