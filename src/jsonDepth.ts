// Bounds how deeply JSON nests, walking it with a list instead of recursion so hostile depth cannot overflow the stack.

import { TooDeep } from './errors.js';

/** Throws TooDeep when `value` nests objects and arrays more than `limit` levels deep; `what` names it and the fix. */
export function checkDepth(value: unknown, limit: number, what: string, fix: string): void {
  if (typeof value !== 'object' || value === null) return;
  const pending: [object, number][] = [[value, 1]];
  for (let next = pending.pop(); next; next = pending.pop()) {
    const [item, depth] = next;
    if (depth > limit) throw new TooDeep(`${what} nests objects and arrays more than ${limit} levels deep; the limit is ${limit}: ${fix}`);
    for (const child of Object.values(item)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
}
