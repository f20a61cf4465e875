// A child process for the store tests: holds a store, hammers it until killed, or hits a write failure.
// Usage: node child-store.mjs <compiled lowdbStore.js> <data dir> hold|hammer|fail-write
import { pathToFileURL } from 'node:url';

const [modulePath, dir, mode] = process.argv.slice(2);
const { openLowdbStore } = await import(pathToFileURL(modulePath).href);
const say = (line) => process.stdout.write(`${line}\n`);

if (mode === 'hold') {
  await openLowdbStore(dir);
  say('ready');
  setInterval(() => {}, 60_000);
} else if (mode === 'hammer') {
  // Eight writers; each commit() sets a/wN and b/wN to the same n, so a torn commit would show as a mismatch.
  const store = await openLowdbStore(dir, { checkpointBytes: 32 * 1024 });
  const writer = async (name) => {
    for (let n = ((await store.get('a', name))?.value.n ?? 0) + 1; ; n++) {
      say(`try ${name} ${n}`);
      const value = { n, pad: 'x'.repeat(200) };
      await store.commit([{ collection: 'a', key: name, value }, { collection: 'b', key: name, value }]);
      say(`ack ${name} ${n} ${store.stats().checkpoints}`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, (_, index) => writer(`w${index}`)));
} else if (mode === 'fail-write') {
  // Run under `ulimit -f 64`: a 100 KB commit cannot be written, and the small one batched with it fails too.
  const store = await openLowdbStore(dir, { checkpointBytes: 1 << 30 });
  await store.commit([{ collection: 'c', key: 'before', value: 1 }]);
  const outcomes = await Promise.allSettled([
    store.commit([{ collection: 'c', key: 'big', value: 'x'.repeat(100 * 1024) }]),
    store.commit([{ collection: 'c', key: 'batched', value: 2 }]),
  ]);
  const visible = [(await store.get('c', 'big')) !== undefined, (await store.get('c', 'batched')) !== undefined];
  await store.commit([{ collection: 'c', key: 'after', value: 3 }]);
  say(JSON.stringify({ outcomes: outcomes.map((outcome) => outcome.status), reason: String(outcomes[0].reason), visible, stats: store.stats() }));
  process.exit(0); // no close(): the journal stays as a crash would leave it
}
