// Bounds how deeply JSON nests, walking it with a list instead of recursion so hostile depth cannot overflow the stack.

import { TooDeep } from './errors.js';

/** Throws TooDeep when `value` nests objects and arrays more than `limit` levels deep; `what` names it and the fix. */
export function checkDepth(value: unknown, limit: number, what: string, fix: string): void {
  if (typeof value !== 'object' || value === null) return;
  // Two parallel lists rather than one of pairs: a 64 KiB body can hold 20,000 arrays, and this runs on each.
  const pending: object[] = [value];
  const depths: number[] = [1];
  const visit = (child: unknown, depth: number): void => {
    if (typeof child !== 'object' || child === null) return;
    pending.push(child);
    depths.push(depth);
  };
  while (pending.length) {
    const item = pending.pop()!;
    const depth = depths.pop()!;
    if (depth > limit) throw new TooDeep(`${what} nests objects and arrays more than ${limit} levels deep; the limit is ${limit}: ${fix}`);
    if (Array.isArray(item)) {
      for (const child of item) visit(child, depth + 1);
    } else {
      for (const key of Object.keys(item)) visit((item as Record<string, unknown>)[key], depth + 1);
    }
  }
}
