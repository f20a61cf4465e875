// Steps and deadlines across three replica processes on one PostgreSQL: each carried out once, however replicas
// are killed -9 or cut off from the store, every run of a step noted by a pg_dump of the test's own on PATH.

import { appendFile, chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChildServer } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';
import { until } from '../support/wait.js';
import { call, clusterForFile, running } from './cluster.js';

const cluster = clusterForFile();

/** Short, so a killed replica's work is taken over within seconds; renewed every second. */
const LEASE = ['--lease', '3s'];
const LEASE_MS = 3000;
const INSTANCES = 1000;

let dir = '';

beforeEach(async () => {
  dir = await tempDir('chartd-exactly-');
  await mkdir(join(dir, 'bin'));
  await mkdir(join(dir, 'out'));
  await writeFile(join(dir, 'pause'), '0.3');
  // Notes each run (start, and done once its work is over) with the replica that ran it; held while DIR/hold exists.
  await writeFile(join(dir, 'bin', 'pg_dump'), `#!/bin/sh
for arg in "$@"; do case "$arg" in --file=*) file="\${arg#--file=}";; esac; done
id=\${file##*/.}; id=\${id%.sql.partial}
trap 'echo "stopped $id $PPID $$" >> ${dir}/runs.log; exit 143' TERM
echo "start $id $PPID $$" >> ${dir}/runs.log
sleep "$(cat ${dir}/pause)"
while [ -e ${dir}/hold ]; do sleep 0.05; done
: > "$file"
echo "done $id $PPID $$" >> ${dir}/runs.log
`);
  await chmod(join(dir, 'bin', 'pg_dump'), 0o755);
});

afterEach(async () => {
  await removeDir(dir);
});

/** A deadline a second after creation, then a step; both move the instance on. */
function relayChart(): Record<string, string> {
  return {
    'relay.yaml': `chart: relay
initial: waiting
states:
  waiting: { after: 1s, next: working }
  working:
    run: pg.dumpSchema
    with: { host: localhost, database: relay, file: "${dir}/out/{{instance.id}}.sql" }
    retry: { attempts: 1 }
    on_success: done
    on_failure: failed
  done: { final: true }
  failed: { final: true }
`,
  };
}

const ENV = (): NodeJS.ProcessEnv => ({ PATH: `${join(dir, 'bin')}:${process.env['PATH'] ?? ''}` });

interface Run {
  /** killed: the test killed replica `replica` here (id and pid are '-'). */
  readonly phase: 'start' | 'done' | 'stopped' | 'killed';
  readonly id: string;
  /** The replica process that ran it. */
  readonly replica: number;
  /** The step's own process. */
  readonly pid: number;
}

async function runs(): Promise<Run[]> {
  const text = await readFile(join(dir, 'runs.log'), 'utf8').catch(() => '');
  return text.split('\n').filter(Boolean).map((line) => {
    const [phase, id, replica, pid] = line.split(' ');
    return { phase: phase as Run['phase'], id: id!, replica: Number(replica), pid: Number(pid) };
  });
}

/** The causes of each relay instance's stored transitions, read from the store itself. */
async function causes(): Promise<Map<string, string[]>> {
  const rows = await cluster.pg().psql(database(), "COPY (SELECT value->>'cause', key FROM chartd.documents WHERE collection = 'history' AND key LIKE 'relay/%' ORDER BY key) TO STDOUT");
  const byInstance = new Map<string, string[]>();
  for (const row of rows.split('\n').filter(Boolean)) {
    const [cause, key] = row.split('\t');
    const id = key!.split('/')[1]!;
    byInstance.set(id, [...(byInstance.get(id) ?? []), cause!]);
  }
  return byInstance;
}

function database(): string {
  return decodeURIComponent(new URL(cluster.url()).pathname.slice(1));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Creates instance `id` through one of the replicas up, trying the next when one dies under it. */
async function create(replicas: readonly ChildServer[], id: string, turn: number): Promise<void> {
  for (let attempt = 0; ; attempt += 1) {
    const up = running(replicas);
    // No answer: the replica was killed with the request in flight.
    const answer = await call(up[(turn + attempt) % up.length]!.url, 'POST', '/charts/relay/instances', { id }).catch((error: Error) => {
      if (attempt > 50) throw error;
      return undefined;
    });
    // 409: an earlier try landed on a replica killed before it answered.
    if (answer && [200, 201, 409].includes(answer.status)) return;
    if (answer && answer.status !== 503) throw new Error(`creating ${id}: ${answer.status} ${answer.body}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('steps and deadlines across three replicas', () => {
  it('1,000 instances through three replicas killed -9 and restarted meanwhile: every deadline fires once, every step runs once', async () => {
    const replicas = await Promise.all([0, 1, 2].map(() => cluster.start(LEASE, relayChart(), ENV())));
    const killed = new Set<number>();
    const creating = (async () => {
      const ids = Array.from({ length: INSTANCES }, (_, at) => `r${at}`);
      const workers = Array.from({ length: 12 }, async (_, worker) => {
        for (let at = worker; at < ids.length; at += 12) {
          await create(replicas, ids[at]!, at);
        }
      });
      await Promise.all(workers);
    })();
    // Kills while instances are being created, deadlines are due and steps are running.
    for (const after of [150, 400, 650, 850]) {
      await until(async () => (await runs()).filter(({ phase }) => phase === 'start').length >= after, `${after} steps started`, 60_000, 50);
      const victim = Math.floor(Math.random() * replicas.length);
      killed.add(replicas[victim]!.child.pid!);
      await replicas[victim]!.kill('SIGKILL');
      await appendFile(join(dir, 'runs.log'), `killed - ${replicas[victim]!.child.pid} -\n`);
      replicas[victim] = await cluster.start(LEASE, relayChart(), ENV());
    }
    await creating;
    await until(async () => (await runs()).filter(({ phase }) => phase === 'done').length >= INSTANCES && (await counts()) === INSTANCES, 'every instance done', 60_000, 200);

    const all = await runs();
    const finished = new Set(all.filter(({ phase }) => phase === 'done').map(({ pid }) => pid));
    // Steps under way on a replica when it was killed (the kill takes its handlers with it): taken over by another.
    const interrupted = all.filter(({ phase, replica, pid }) => phase === 'start' && killed.has(replica) && !finished.has(pid));
    expect(interrupted.length, 'steps under way when their replica was killed').toBeGreaterThan(0);

    const history = await causes();
    expect(history.size).toBe(INSTANCES);
    for (const [id, transitions] of history) {
      expect(transitions.filter((cause) => cause === 'timer'), id).toHaveLength(1);
      expect(transitions.filter((cause) => cause === 'success' || cause === 'failure'), id).toEqual(['success']);
      const done = all.flatMap((run, at) => (run.phase === 'done' && run.id === id ? [at] : []));
      expect(done.length, `runs of ${id} done`).toBeGreaterThanOrEqual(1);
      // Done again only where the replica that did it was killed before it could commit the outcome, and after that kill.
      for (const [nth, at] of done.slice(0, -1).entries()) {
        const kill = all.findIndex((run, after) => after > at && run.phase === 'killed' && run.replica === all[at]!.replica);
        const again = all.findIndex((run, after) => after > at && run.phase === 'start' && run.id === id);
        expect(kill, `${id} done by ${all[at]!.replica}, never killed, and done again`).toBeGreaterThan(-1);
        expect(again, `${id} started again after ${all[at]!.replica} had done it (run ${nth + 1}), before it was killed`).toBeGreaterThan(kill);
      }
    }

    async function counts(): Promise<number> {
      const answer = await cluster.pg().psql(database(), "SELECT count(*) FROM chartd.documents WHERE collection = 'instances' AND key LIKE 'relay/r%' AND value->>'state' = 'done'");
      return Number(answer.trim());
    }
  }, 120_000);

  it('a replica cut off from PostgreSQL stops the step it can no longer renew the claim of; another finishes the instance once', async () => {
    const pg = cluster.pg();
    if (!pg.managed) return;
    const role = `chartd_cut_${process.pid}`;
    await pg.psql('postgres', `DROP ROLE IF EXISTS ${role}; CREATE ROLE ${role} LOGIN SUPERUSER`);
    try {
      await writeFile(join(dir, 'hold'), '');
      const url = new URL(await cluster.database());
      url.username = role;
      url.searchParams.set('application_name', 'chartd-cut-off');
      const cut = await cluster.start(LEASE, relayChart(), { ...ENV(), CHARTD_STORE: url.toString() });
      // Alone for now, so the step is under way on the replica to be cut off.
      expect((await call(cut.url, 'POST', '/charts/relay/instances', { id: 'solo' })).status).toBe(201);
      await until(async () => (await runs()).some(({ phase, id }) => phase === 'start' && id === 'solo'), 'the step started on the replica to be cut off', 20_000);
      const [first] = await runs();
      expect(first!.replica).toBe(cut.child.pid);

      const [b, c] = await Promise.all([cluster.start(LEASE, relayChart(), ENV()), cluster.start(LEASE, relayChart(), ENV())]);
      await pg.psql('postgres', `ALTER ROLE ${role} NOLOGIN`);
      const terminated = await pg.psql('postgres', "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = 'chartd-cut-off'");
      expect(Number(terminated.trim())).toBeGreaterThan(0);

      await until(() => !alive(first!.pid), 'the cut-off replica stopping its step', 4 * LEASE_MS, 50);
      await until(async () => (await runs()).some(({ phase, replica }) => phase === 'start' && replica !== cut.child.pid), 'another replica taking the step over', 4 * LEASE_MS, 50);
      const taken = await runs();
      // Stopped before the other replica started it: the two never ran at once.
      const stopped = taken.findIndex(({ phase, replica }) => phase === 'stopped' && replica === cut.child.pid);
      const takenOver = taken.findIndex(({ phase, replica }) => phase === 'start' && replica !== cut.child.pid);
      expect(stopped).toBeGreaterThan(-1);
      expect(stopped).toBeLessThan(takenOver);

      await rm(join(dir, 'hold'));
      await until(async () => (await call(b!.url, 'GET', '/charts/relay/instances/solo/state?state=done')).status === 200, 'the instance done', 20_000);
      await pg.psql('postgres', `ALTER ROLE ${role} LOGIN`);
      // Back in touch, the cut-off replica neither runs the step again nor records a second outcome.
      await until(async () => (await call(cut.url, 'GET', '/charts/relay/instances/solo/state?state=done')).status === 200, 'the cut-off replica back', 20_000);
      expect(cut.stderr()).toContain('its claim could not be renewed in time');
      expect((await runs()).filter(({ phase, replica }) => phase === 'start' && replica === cut.child.pid)).toHaveLength(1);
      const done = (await runs()).filter(({ phase }) => phase === 'done');
      expect(done).toHaveLength(1);
      expect([b!.child.pid, c!.child.pid]).toContain(done[0]!.replica);
      expect((await causes()).get('solo')).toEqual(['create', 'timer', 'success']);
    } finally {
      await pg.psql('postgres', `ALTER ROLE ${role} LOGIN`);
    }
  }, 90_000);
});
