// `chartd store copy` moves everything between a data directory and PostgreSQL; `chartd store verify` compares two stores.

import { compareStores, type Comparison } from '../../store/copy/compareStores.js';
import { copyStore } from '../../store/copy/copyStore.js';
import type { StoreLog } from '../../store/lock.js';
import { ChartdCommand } from '../command.js';
import { openStore, sameStore, storeLocation, type OpenedStore, type StoreLocation } from '../storeLocation.js';
import { UsageError } from '../usage.js';

interface StoreOptions {
  readonly from: StoreLocation;
  readonly to: StoreLocation;
  readonly force?: boolean;
}

/** Progress lines on a large collection come this many documents apart. */
const PROGRESS_EVERY = 10_000;

const EXAMPLES = [
  'chartd store copy --from /var/lib/chartd --to postgres://chartd@db.internal:5432/chartd',
  'PGPASSWORD=… chartd store copy --from postgres://chartd@db.internal:5432/chartd --to /var/lib/chartd-back',
];

export function command(): ChartdCommand {
  const store = new ChartdCommand('store')
    .description('Copies every document between stores (a data directory and PostgreSQL), and compares two stores. See docs/storage.md.')
    .helpCommand('help [command]', "show a command's help")
    .enablePositionalOptions();
  store.command('copy')
    .summary('Copy every document of one store into another, then compare them')
    .description(`Copies everything a store holds (instances and their history, charts applied over
HTTP, alerts, backup records: every collection) into another, a page at a time, with
progress on standard error. Then reads the target back and compares each collection's
document count and checksum with the source's; any difference exits 1 naming the
collection. A data directory is locked while it is read or written, so one a server
runs on is refused. The target must be empty: --force deletes what it holds first (on
PostgreSQL in the same transaction as the copy, which lands whole or not at all; in a
data directory in commits of its own). Stop every chartd on either store first.
A password in a URL is never printed; PGPASSWORD and ~/.pgpass work as for libpq.`)
    .including(locationOptions)
    .accept('--force', 'delete what the target holds before copying')
    .example(...EXAMPLES)
    .run(copy);
  store.command('verify')
    .summary('Compare two stores collection by collection: count and checksum')
    .description(`Reads both stores and prints, for every collection either holds, its document count
and checksum on each side. Exits 0 when they are the same, 1 naming each collection
that differs. Data directories are locked while they are read.`)
    .including(locationOptions)
    .example('chartd store verify --from /var/lib/chartd --to postgres://chartd@db.internal:5432/chartd')
    .run(verify);
  return store;
}

function locationOptions(command: ChartdCommand): void {
  command
    .accept('--from <STORE>', 'the store to read: a data directory, or postgres://USER@HOST:PORT/DATABASE', { read: storeLocation('--from'), required: true })
    .accept('--to <STORE>', 'the store to write or compare with: a data directory, or postgres://USER@HOST:PORT/DATABASE', { read: storeLocation('--to'), required: true })
    .check<StoreOptions>(({ from, to }) => {
      if (from && to && sameStore(from, to)) throw new UsageError('--from and --to name the same store; give two different ones');
    });
}

async function copy(options: StoreOptions): Promise<number> {
  const log = storeLog('copy');
  return withStore(options.from, 'source', log, async (source) => {
    await withStore(options.to, 'target', log, async (target) => {
      const filling = await target.fill(options.force === true);
      await copyStore(source.store, filling, (collection, copied, total) => {
        // Pages hold PAGE documents but the last, and PROGRESS_EVERY is a multiple of PAGE.
        if (copied % PROGRESS_EVERY === 0 || copied >= total) process.stderr.write(`copied ${copied} of ${total} ${collection}\n`);
      });
    });
    // Read back from the target as it is stored, not as this process last saw it.
    return withStore(options.to, 'target', log, async (target) => report(await compareStores(source.store, target.store), source, target, 'copy'));
  });
}

async function verify(options: StoreOptions): Promise<number> {
  const log = storeLog('verify');
  return withStore(options.from, 'source', log, (source) =>
    withStore(options.to, 'target', log, async (target) => report(await compareStores(source.store, target.store), source, target, 'verify')));
}

/** Opens `location`, runs `use` on it, and closes it (releasing a data directory's lock) whatever happens. */
async function withStore<T>(location: StoreLocation, role: 'source' | 'target', log: StoreLog, use: (opened: OpenedStore) => Promise<T>): Promise<T> {
  const opened = await openStore(location, role, log);
  try {
    return await use(opened);
  } finally {
    await opened.store.close();
  }
}

/** Prints the comparison on stdout; answers 1 when a collection differs, named on stderr. */
function report(comparisons: readonly Comparison[], source: OpenedStore, target: OpenedStore, verb: 'copy' | 'verify'): number {
  const width = Math.max(10, ...comparisons.map(({ collection }) => collection.length));
  const counts = ({ from, to }: Comparison): string => `${from.count} / ${to.count}`;
  const countWidth = Math.max(21, ...comparisons.map((comparison) => counts(comparison).length));
  process.stdout.write(`${'collection'.padEnd(width)}  ${'documents (from / to)'.padEnd(countWidth)}  checksum (from / to)\n`);
  for (const comparison of comparisons) {
    const checksums = `${comparison.from.checksum.slice(0, 16)} / ${comparison.to.checksum.slice(0, 16)}`;
    process.stdout.write(`${comparison.collection.padEnd(width)}  ${counts(comparison).padEnd(countWidth)}  ${checksums}  ${comparison.same ? 'same' : 'DIFFERS'}\n`);
  }
  const differing = comparisons.filter(({ same }) => !same).map(({ collection }) => collection);
  const documents = comparisons.reduce((sum, { from }) => sum + from.count, 0);
  if (differing.length) {
    const advice = verb === 'copy' ? '; run the copy again with --force once nothing writes to either store' : '';
    process.stderr.write(`chartd store ${verb}: ${target.shown} differs from ${source.shown} in ${differing.join(', ')}${advice}\n`);
    return 1;
  }
  const what = verb === 'copy' ? `copied ${documents} documents in ${comparisons.length} collections from ${source.shown} to ${target.shown}` : `${source.shown} and ${target.shown} hold the same ${documents} documents in ${comparisons.length} collections`;
  process.stdout.write(`${what}: every count and checksum matches\n`);
  return 0;
}

function storeLog(verb: string): StoreLog {
  return (_level, msg) => process.stderr.write(`chartd store ${verb}: ${msg}\n`);
}
