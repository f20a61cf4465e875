// Two `chartd serve --store` processes posting to one webhook: each alert arrives once, though the webhook refused the first attempts.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../support/wait.js';
import { call, clusterForFile, json } from './cluster.js';

const cluster = clusterForFile();

// Every instance (the default one too) times out at once: one alert each.
const EXPIRES = 'chart: expires\ninitial: wait\nstates:\n  wait: { on: { ok: done }, timeout: { after: 100ms, next: late } }\n  done: { final: true }\n  late: { final: true }\n';

/** The first REFUSED posts are answered 503. */
const REFUSED = 2;

let hook: Server | undefined;

afterEach(async () => {
  if (hook) await new Promise((resolve) => hook!.close(resolve));
  hook = undefined;
});

describe('alerts with several replicas', () => {
  it('each arrives at the webhook once, oldest first, after it refused the first attempts', async () => {
    const posts: { key: string; taken: boolean }[] = [];
    hook = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        const taken = posts.length >= REFUSED;
        posts.push({ key: String(req.headers['idempotency-key']), taken });
        res.statusCode = taken ? 200 : 503;
        res.end();
      });
    });
    await new Promise<void>((resolve) => hook!.listen(0, '127.0.0.1', resolve));
    const webhook = `http://127.0.0.1:${(hook.address() as AddressInfo).port}/alerts`;
    const args = ['--alert-webhook', webhook];
    const a = await cluster.start(args, { 'expires.yaml': EXPIRES });
    const b = await cluster.start(args, { 'expires.yaml': EXPIRES });

    const ids = Array.from({ length: 10 }, (_, at) => `e${at}`);
    for (const [at, id] of ids.entries()) {
      const created = await call((at % 2 ? b : a).url, 'POST', '/charts/expires/instances', { id });
      expect(created.status).toBe(201);
    }
    const alerting = ['default', ...ids];
    const pending = async (url: string) => (await json<{ alerts: { undelivered: number } }>(url, '/healthz')).alerts.undelivered;
    await until(async () => posts.filter((post) => post.taken).length === alerting.length && (await pending(a.url)) === 0 && (await pending(b.url)) === 0, 'every alert delivered', 30_000);

    const taken = posts.filter((post) => post.taken).map((post) => post.key);
    expect(new Set(taken).size).toBe(alerting.length);
    expect(new Set(taken.map((key) => key.slice(0, key.indexOf('@'))))).toEqual(new Set(alerting.map((id) => `expires/${id}`)));
    // Refused attempts were of the oldest alert, tried again until taken; nothing was posted twice once taken.
    expect(posts.slice(0, REFUSED + 1).map((post) => post.key)).toEqual(Array(REFUSED + 1).fill(taken[0]));
    expect(posts).toHaveLength(alerting.length + REFUSED);
  }, 60_000);
});
