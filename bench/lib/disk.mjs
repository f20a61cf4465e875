// How long this disk takes to make a small append durable: what every durable PUT waits for at least once.
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { percentile } from './stats.mjs';

/** `count` appends of `bytes` bytes, each followed by fdatasync, as the journal does; latencies in ms. */
export async function probeFsync(dir, { count = 300, bytes = 700 } = {}) {
  const file = join(dir, 'fsync-probe');
  const handle = await open(file, 'w');
  const buffer = Buffer.alloc(bytes, 'x');
  const times = [];
  try {
    for (let index = 0; index < count; index++) {
      const started = performance.now();
      await handle.write(buffer, 0, bytes, index * bytes);
      await handle.datasync();
      times.push(performance.now() - started);
    }
  } finally {
    await handle.close();
    await rm(file, { force: true });
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p90: percentile(times, 0.9), p99: percentile(times, 0.99), mean: times.reduce((sum, ms) => sum + ms, 0) / times.length };
}
