// Group commit's gathering step: give callers answered by the last batch a moment to join the next one.

const MAX_TURNS = 16;

/**
 * Waits whole event-loop turns (each polls the network) until `count()` reaches `want`, at most `maxMs`.
 * Clients that wait for an answer before sending again otherwise split into two groups taking turns at the
 * disk, each batch holding half of them; a few hundred microseconds here lets one fsync serve them all.
 */
export async function gather(count: () => number, want: number, maxMs = 0.4): Promise<void> {
  if (count() >= want) return;
  const started = performance.now();
  for (let turn = 0; turn < MAX_TURNS && count() < want && performance.now() - started < maxMs; turn += 1) {
    await new Promise((resolve) => setImmediate(resolve));
  }
}
