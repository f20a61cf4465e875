// The operator's values file: its shape, then its settings against the charts served and its services, every problem with file and line.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartPaths } from '../../src/chart/load.js';
import type { Chart } from '../../src/chart/model.js';
import { formatProblem } from '../../src/chart/problem.js';
import { handlerRegistry, StartupError } from '../../src/main.js';
import { InputChecker } from '../../src/runtime/inputChecker.js';
import { checkOperatorValues, loadOperatorValues } from '../../src/runtime/operatorValues.js';
import { startServer } from '../../src/servers.js';

const handlers = handlerRegistry();
let dir: string;
let charts: Chart[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'chartd-values-'));
  ({ charts } = await loadChartPaths(['charts'], { handlers }));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function valuesFile(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

async function problemsOf(file: string): Promise<string[]> {
  return checkOperatorValues(await loadOperatorValues(file), charts, new InputChecker(), handlers).map(formatProblem);
}

describe('the values file', () => {
  it('binds settings and the environment allow-list as written', async () => {
    const file = await valuesFile('good.yaml', 'environment: [PGPASS_SALES]\ncharts:\n  backup-and-encrypt:\n    storage_root: /srv/backups\n    postgresql_host: db.internal\n    password_env: PGPASS_SALES\n');
    const values = await loadOperatorValues(file);
    expect(values.environment).toEqual(['PGPASS_SALES']);
    expect(values.charts).toEqual({ 'backup-and-encrypt': { storage_root: '/srv/backups', postgresql_host: 'db.internal', password_env: 'PGPASS_SALES' } });
    expect(await problemsOf(file)).toEqual([]);
  });

  it('refuses a wrong shape with every problem at once, each at its line', async () => {
    const file = await valuesFile('shape.yaml', 'enviroment: [A]\nenvironment: [GOOD, 9LIVES, "A-B"]\ncharts:\n  backup-and-encrypt: /srv/backups\n');
    await expect(loadOperatorValues(file)).rejects.toThrow([
      'values file has problems:',
      `${file}:1: enviroment: unknown key 'enviroment' (did you mean 'environment'?); a values file has environment: (a list of variable names), charts: (each chart's settings), supervisor: and services: (docs/operations.md)`,
      `${file}:2: environment[1]: "9LIVES" is not an environment variable name (letters, digits and _, not starting with a digit)`,
      `${file}:2: environment[2]: "A-B" is not an environment variable name (letters, digits and _, not starting with a digit)`,
      `${file}:4: charts.backup-and-encrypt: give chart backup-and-encrypt's settings as a mapping (KEY: VALUE lines)`,
    ].join('\n'));
  });

  it('refuses unknown charts, settings their schema refuses and a password variable off the allow-list, each at its line', async () => {
    const file = await valuesFile('settings.yaml', [
      'environment: [PGPASS_SALES]',
      'charts:',
      '  backup-and-encrpyt: {}',
      '  backup-and-encrypt:',
      '    storage_root: relative/dir',
      '    postgresql_port: 70000',
      '    password_env: PGPASS_HR',
      '    postgres_host: db',
      '  traffic-light: { colour: red }',
      '',
    ].join('\n'));
    expect(await problemsOf(file)).toEqual([
      `${file}:3: charts.backup-and-encrpyt: no chart named backup-and-encrpyt is served (did you mean 'backup-and-encrypt'?); served: backup-and-encrypt, backup-request, rolling-upgrade, traffic-light`,
      `${file}:5: charts.backup-and-encrypt.storage_root: must match pattern "^/"`,
      `${file}:6: charts.backup-and-encrypt.postgresql_port: must be <= 65535`,
      `${file}:7: charts.backup-and-encrypt.password_env: PGPASS_HR is read from the server's environment (password_env of step backup_schema), but it is not in environment:; add it there`,
      `${file}:8: charts.backup-and-encrypt.postgres_host: is not declared (did you mean 'postgresql_host'?); declared: storage_root, postgresql_host, postgresql_port, postgresql_user, password_env, gnupg_home`,
      `${file}:9: charts.traffic-light.colour: is not a setting: chart traffic-light declares no settings`,
    ]);
  });

  it('leaves required settings to the instances: a chart without them is served, and says so once', async () => {
    const file = await valuesFile('partial.yaml', 'charts:\n  backup-and-encrypt:\n    storage_root: /srv/backups\n');
    expect(await problemsOf(file)).toEqual([]);
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, new Writable({ write: (chunk: Buffer, _, done) => done(void lines.push(chunk.toString())) }));
    const server = await startServer({ chartPaths: ['charts'], dataDir: join(dir, 'data'), port: 0, host: '127.0.0.1', log, valuesFile: file });
    try {
      const warnings = lines.map((line) => JSON.parse(line) as { chart?: string; missing?: string[]; msg: string });
      expect(warnings.filter((entry) => entry.chart).map(({ chart, missing, msg }) => ({ chart, missing, msg }))).toEqual([{
        chart: 'backup-and-encrypt', missing: ['postgresql_host'],
        msg: 'chart backup-and-encrypt creates no instances until its settings postgresql_host are bound: --values FILE, under charts: backup-and-encrypt:',
      }]);
      const answer = await fetch(`${server.url}/charts/backup-and-encrypt/instances`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: 'nightly', context: { client_name: 'acme', database: 'sales', eoy_month: 6, key_name: 'backups@example.com' } }),
      });
      expect(answer.status).toBe(409);
      expect(await answer.json()).toEqual({ error: { code: 'not_configured', message: expect.stringMatching(/^chart backup-and-encrypt is not configured: it needs the operator's settings postgresql_host; bind them \(chartd serve and chartd zone: --values FILE/) } });
      expect((await fetch(`${server.url}/charts/backup-and-encrypt/instances/nightly`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });

  it('stops start-up on its problems, naming the file and line', async () => {
    const file = await valuesFile('typo.yaml', 'charts:\n  trafic-light: {}\n');
    const starting = startServer({ chartPaths: ['charts'], dataDir: join(dir, 'refused'), port: 0, host: '127.0.0.1', log: pino({ level: 'silent' }), valuesFile: file });
    await expect(starting).rejects.toBeInstanceOf(StartupError);
    await expect(starting).rejects.toThrow(`values file has problems:\n${file}:2: charts.trafic-light: no chart named trafic-light is served (did you mean 'traffic-light'?)`);
    await expect(startServer({ chartPaths: ['charts'], dataDir: join(dir, 'refused'), port: 0, host: '127.0.0.1', log: pino({ level: 'silent' }), valuesFile: join(dir, 'missing.yaml') }))
      .rejects.toThrow(`cannot read the values file ${join(dir, 'missing.yaml')}: ENOENT`);
  });
});

describe('the services of a values file', () => {
  it('need no configuration: every service enabled and kept alive, looked at every 10 s, started again within 5 min', async () => {
    const values = await loadOperatorValues(await valuesFile('none.yaml', 'environment: []\n'));
    expect(values.services).toEqual({ intervalMs: 10_000, maxIntervalMs: 300_000, choices: {} });
  });

  it('take the back-off and each service\'s choices as written', async () => {
    const file = await valuesFile('good.yaml', [
      'supervisor:',
      '  backoff_interval: 30s',
      '  max_backoff: 10m',
      'services:',
      '  alerts: { enabled: false }',
      '  job-service: { keep_alive: false }',
      '  zone:eu-1: { keep_alive: false, enabled: true }',
      '',
    ].join('\n'));
    expect((await loadOperatorValues(file)).services).toEqual({
      intervalMs: 30_000, maxIntervalMs: 600_000,
      choices: {
        alerts: { enabled: false, keepAlive: true },
        'job-service': { enabled: true, keepAlive: false },
        'zone:eu-1': { enabled: true, keepAlive: false },
      },
    });
  });

  it('refuse unknown services and keys, services that cannot be switched off and bad durations, each at its line', async () => {
    const file = await valuesFile('bad.yaml', [
      'supervisor:',
      '  backoff_interval: 10',
      '  max_backof: 5m',
      'services:',
      '  alert: { enabled: false }',
      '  steps: { enabled: false }',
      '  timers: { keep_alive: "no", restart: true }',
      '  zone-outbox: off',
      '',
    ].join('\n'));
    await expect(loadOperatorValues(file)).rejects.toThrow([
      'values file has problems:',
      `${file}:2: supervisor.backoff_interval: duration '10' has no unit: write 10s, 5m or 1h`,
      `${file}:3: supervisor.max_backof: unknown key 'max_backof' (did you mean 'max_backoff'?); the supervisor takes backoff_interval: and max_backoff:`,
      `${file}:5: services.alert: chartd has no service alert (did you mean 'alerts'?); its services are checkpointer, timers, steps, alerts, backup-controller, job-service, zone-outbox and zone:NAME for each zone of --backup-config`,
      `${file}:6: services.steps.enabled: steps cannot be switched off: steps would never run`,
      `${file}:7: services.timers.keep_alive: keep_alive is true or false, not "no"`,
      `${file}:7: services.timers.restart: unknown key 'restart'; a service takes enabled: and keep_alive: (true or false)`,
      `${file}:8: services.zone-outbox: give zone-outbox's choices as a mapping, e.g. zone-outbox: { keep_alive: false }`,
    ].join('\n'));
  });

  it('refuse a longest wait shorter than the first', async () => {
    const file = await valuesFile('short.yaml', 'supervisor: { backoff_interval: 1m, max_backoff: 30s }\n');
    await expect(loadOperatorValues(file)).rejects.toThrow(`${file}:1: supervisor.max_backoff: max_backoff (30000 ms) is shorter than backoff_interval (60000 ms); give one at least as long`);
  });
});
