// The run's settings, from the environment, so a quick look and a careful run use the same harness.
import { tmpdir } from 'node:os';

function number(name, fallback) {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name}=${text} is not a non-negative number`);
  return value;
}

function list(name, fallback) {
  const text = process.env[name];
  if (!text) return fallback;
  return text.split(',').map((part) => {
    const value = Number(part.trim());
    if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name}=${text}: ${part} is not a whole number ≥ 1`);
    return value;
  });
}

export function readConfig() {
  const config = {
    /** Seconds of each measured round. */
    seconds: number('BENCH_SECONDS', 3),
    /** Rounds per figure; the median round is reported, and each ratio is the median of the rounds' ratios. */
    rounds: number('BENCH_ROUNDS', 5),
    /** Unrecorded seconds of load before each round, so the server's JIT has settled. */
    warmup: number('BENCH_WARMUP', 1),
    /** Requests each server answers in its warm-up, at least, where a benchmark asks for it (bench/replicas.mjs). */
    warmupRequests: number('BENCH_WARMUP_REQUESTS', 5000),
    /** Connection counts for the GET and PUT throughput figures. */
    connections: list('BENCH_CONNECTIONS', [16, 64]),
    /** Instances a spread PUT goes round. */
    spread: number('BENCH_SPREAD', 1000),
    /** Instances stored for the scaling figures (the last one also for start-up). */
    scale: list('BENCH_SCALE', [10, 10_000, 100_000]),
    /** Connections for the scaling figures: at most the smallest count, so no two PUTs in flight share an instance. */
    scaleConnections: number('BENCH_SCALE_CONNECTIONS', 10),
    /** Start-ups timed with the most instances; the median is reported. */
    startups: number('BENCH_STARTUPS', 3),
    /** Where the data directories go (a real disk: fsync is what a PUT waits for). */
    dir: process.env.BENCH_DIR || tmpdir(),
    /** Keep the data directories afterwards (for profiling). */
    keep: process.env.BENCH_KEEP === '1',
    /** The load generator: autocannon (from npm, the default) or wrk (from the system's packages). */
    loader: process.env.BENCH_LOADER || 'autocannon',
    /** Exit with 1 when a target is missed. */
    strict: process.env.BENCH_STRICT === '1',
  };
  if (!['autocannon', 'wrk'].includes(config.loader)) throw new Error(`BENCH_LOADER=${config.loader}: use autocannon or wrk`);
  if (config.rounds < 1 || config.seconds <= 0) throw new Error('BENCH_ROUNDS must be ≥ 1 and BENCH_SECONDS > 0');
  if (config.scaleConnections > Math.min(...config.scale)) {
    throw new Error(`BENCH_SCALE_CONNECTIONS=${config.scaleConnections} is more than the fewest instances stored (${Math.min(...config.scale)}); PUTs in flight would share instances`);
  }
  if (Math.max(...config.connections) > config.spread) throw new Error(`BENCH_SPREAD=${config.spread} is less than the connections (${config.connections.join(', ')})`);
  return config;
}
