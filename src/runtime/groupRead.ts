// Reads of one collection asked while another is under way, made together in the next one (one getMany).

import type { Store, Stored } from '../store/port.js';

interface Asked<T> {
  readonly key: string;
  readonly resolve: (stored: Stored<T> | undefined) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * A read asked while one is under way starts after it ends, so it sees every commit that landed before it was
 * asked; each costs a shared store a round trip, so the reads of many instances share one.
 */
export class GroupRead<T> {
  private asked: Asked<T>[] = [];
  private reading = false;

  constructor(private readonly store: Store, private readonly collection: string) {}

  get(key: string): Promise<Stored<T> | undefined> {
    return new Promise((resolve, reject) => {
      this.asked.push({ key, resolve, reject });
      if (!this.reading) void this.readNext();
    });
  }

  /** Never rejects: every outcome goes to the one who asked. */
  private async readNext(): Promise<void> {
    this.reading = true;
    while (this.asked.length) {
      const group = this.asked;
      this.asked = [];
      try {
        // One key alone takes the store's single read (a named statement on PostgreSQL).
        const found = group.length === 1
          ? new Map([[group[0]!.key, await this.store.get<T>(this.collection, group[0]!.key)]])
          : await this.store.getMany<T>(this.collection, [...new Set(group.map(({ key }) => key))]);
        for (const { key, resolve } of group) resolve(found.get(key));
      } catch (error) {
        for (const { reject } of group) reject(error);
      }
    }
    this.reading = false;
  }
}
