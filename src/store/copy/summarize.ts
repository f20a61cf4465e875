// A collection's fingerprint: how many documents it holds and a checksum of their keys and values, read through the port.

import { createHash } from 'node:crypto';
import type { Store } from '../port.js';
import { pagesOf } from '../readAll.js';

export interface Summary {
  readonly count: number;
  /** 64 hex digits; the same documents give the same checksum in any store. */
  readonly checksum: string;
}

const MODULUS = 1n << 256n;

/**
 * Sums the SHA-256 of each [key, value] as JSON, so the checksum does not depend on the order the store pages in
 * (JavaScript and PostgreSQL sort some characters differently); keys are unique, so no two documents cancel out.
 */
export async function summarize(store: Store, collection: string): Promise<Summary> {
  let count = 0;
  let sum = 0n;
  for await (const page of pagesOf(store, collection)) {
    for (const { key, value } of page) {
      sum = (sum + BigInt(`0x${createHash('sha256').update(JSON.stringify([key, value])).digest('hex')}`)) % MODULUS;
      count += 1;
    }
  }
  return { count, checksum: sum.toString(16).padStart(64, '0') };
}
