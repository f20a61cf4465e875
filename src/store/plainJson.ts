// The port's contract on values, checked when the test suite asks (CHARTD_STORE_CHECKS=1): plain JSON, never changed after commit.

import { isDeepStrictEqual } from 'node:util';

export const CHECK_PLAIN_JSON = process.env['CHARTD_STORE_CHECKS'] === '1';

/** Throws unless `value` equals what its JSON text reads back as; then freezes it, so a later change throws too. */
export function checkPlainJson(collection: string, key: string, value: unknown, json: string): void {
  if (!isDeepStrictEqual(JSON.parse(json), value)) {
    throw new TypeError(`the value for ${collection}/${key} is not plain JSON data (it differs from its JSON)`);
  }
  freezeDeeply(value);
}

function freezeDeeply(value: unknown): void {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return;
  Object.freeze(value);
  for (const item of Object.values(value)) freezeDeeply(item);
}
