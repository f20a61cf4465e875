// `chartd serve --store`: exclusive with --data, a password in the URL or PGPASSWORD never shown, and a chart served
// in another version by one replica named at its start-up and on every replica's /healthz.

import { describe, expect, it } from 'vitest';
import { runCli } from '../support/child.js';
import { PASSWORD_ROLE, quoteIdent } from '../support/postgres.js';
import { until } from '../support/wait.js';
import { call, CHARTS, clusterForFile, json } from './cluster.js';

const cluster = clusterForFile();

interface Health {
  readonly store: { readonly ok: boolean };
  readonly replicas: { readonly self: string; readonly live: number; readonly mismatched: { chart: string; versions: Record<string, string[]> }[] };
}

describe('chartd serve --store', () => {
  it('refuses --store with --data, and --data with CHARTD_STORE, naming both (exit 2)', async () => {
    const both = await runCli(['serve', '--store', 'postgres://chartd@127.0.0.1:1/chartd', '--data', '/tmp/x']);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--store and --data exclude each other');
    const fromEnv = await runCli(['serve', '--data', '/tmp/x'], { CHARTD_STORE: 'postgres://chartd@127.0.0.1:1/chartd' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('--data and CHARTD_STORE exclude each other');
    const bad = await runCli(['serve', '--store', 'postgres://chartd:hunter2@127.0.0.1:1']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('names no database');
    expect(bad.stderr).not.toContain('hunter2');
  });

  it('takes the password from the URL or PGPASSWORD and never logs or answers it', async () => {
    const pg = cluster.pg();
    if (!pg.managed) return;
    await cluster.start();
    const database = new URL(cluster.url()).pathname.slice(1);
    await pg.psql('postgres', `DROP ROLE IF EXISTS ${PASSWORD_ROLE}; CREATE ROLE ${PASSWORD_ROLE} LOGIN PASSWORD 'sw0rdfish-secret'`);
    await pg.psql('postgres', `GRANT ALL ON DATABASE ${quoteIdent(database)} TO ${PASSWORD_ROLE}`);
    await pg.psql(database, `GRANT ALL ON SCHEMA chartd TO ${PASSWORD_ROLE}; GRANT ALL ON ALL TABLES IN SCHEMA chartd TO ${PASSWORD_ROLE}; GRANT ALL ON ALL SEQUENCES IN SCHEMA chartd TO ${PASSWORD_ROLE}`);
    const inUrl = await cluster.start(['--log-level', 'info'], CHARTS, { CHARTD_STORE: `postgres://${PASSWORD_ROLE}:sw0rdfish-secret@127.0.0.1:${pg.port}/${database}` });
    const fromEnv = await cluster.start(['--log-level', 'info'], CHARTS, { CHARTD_STORE: `postgres://${PASSWORD_ROLE}@127.0.0.1:${pg.port}/${database}`, PGPASSWORD: 'sw0rdfish-secret' });
    for (const replica of [inUrl, fromEnv]) {
      expect((await call(replica.url, 'PUT', '/charts/tally/state?state=open')).status).toBe(200);
      const health = await call(replica.url, 'GET', '/healthz');
      expect(health.status).toBe(200);
      expect(health.body).not.toContain('sw0rdfish');
      expect(replica.stderr()).toContain(`postgres://${PASSWORD_ROLE}`);
    }
    expect(inUrl.stderr()).toContain(`${PASSWORD_ROLE}:***@`);
    for (const replica of [inUrl, fromEnv]) {
      await replica.kill();
      expect(replica.stderr()).not.toContain('sw0rdfish');
    }
  });

  it('a replica serving another version of a chart says so at start-up, and every replica says so on /healthz', async () => {
    const [a, b] = await cluster.replicas(2);
    expect((await json<Health>(a!.url, '/healthz')).replicas).toMatchObject({ live: 2, mismatched: [] });
    const changed = { ...CHARTS, 'pingpong.yaml': CHARTS['pingpong.yaml']!.replace('over: { final: true }', 'over: { final: true, description: changed }') };
    const c = await cluster.start(['--log-level', 'warn'], changed);
    await until(() => /chart pingpong is served in different versions/.test(c.stderr()), 'the warning of the replica started with another version');
    for (const replica of [a!, b!, c]) {
      await until(async () => (await json<Health>(replica.url, '/healthz')).replicas.mismatched.length === 1, 'the mismatch on /healthz');
      const { replicas } = await json<Health>(replica.url, '/healthz');
      expect(replicas.live).toBe(3);
      expect(replicas.mismatched[0]!.chart).toBe('pingpong');
      expect(Object.values(replicas.mismatched[0]!.versions).map((ids) => ids.length).sort()).toEqual([1, 2]);
    }
    // The odd one out stops: the others forget it at once.
    await c.kill();
    await until(async () => (await json<Health>(a!.url, '/healthz')).replicas.mismatched.length === 0, 'the mismatch gone with the replica');
  });
});
