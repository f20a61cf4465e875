// Waiting in tests: a fixed pause, or polling until a condition holds.

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `check` every `every` ms until it holds; throws naming `what` once `ms` have passed. */
export async function until(check: () => boolean | Promise<boolean>, what = 'the condition', ms = 5000, every = 20): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}
