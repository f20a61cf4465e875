// GET /openapi.json is the contract: every route of a fully enabled serve and of a zone is in it and nothing else, it is
// valid OpenAPI 3.1, each operation's scope is the one the guard enforces, and the answers given have the documented shape.

import { Validator } from '@seriousme/openapi-schema-validator';
import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashOf, newToken } from '../../src/access/tokens.js';
import { serveDescription, zoneDescription } from '../../src/http/openapi/document.js';
import { createLogger } from '../../src/log.js';
import { startZoneServer, type RunningZone } from '../../src/servers.js';
import { packageVersion } from '../../src/version.js';
import { operationsOf, registeredRoutes, resolve, schemaChecker, type Documented, type Json, type Role } from '../support/openapi.js';
import { removeDir, startTestServer, tempDir, TRAFFIC_LIGHT, writeCharts, type TestServer } from '../support/server.js';
import { startTakingZone, type TakingZone } from '../support/takingZone.js';

/**
 * One token per scope; `admin` holds read and write too, and nothing holds `results` but its own token. `elsewhere`
 * may write only to a chart no route here names, so every write route, each on its own chart, refuses it.
 */
type Held = Exclude<Role, 'none'> | 'elsewhere';
const TOKENS: Record<Held, string> = { read: newToken(), write: newToken(), admin: newToken(), results: newToken(), elsewhere: newToken() };
const SCOPES: Record<Held, string> = { read: 'read', write: 'write', admin: 'admin', results: 'results', elsewhere: '{ write: [elsewhere] }' };
const AUTH = `reads: token
tokens:
${Object.entries(TOKENS).map(([held, token]) => `  ${held}-token: { hash: '${hashOf(token)}', scopes: [${SCOPES[held as Held]}] }`).join('\n')}
`;

let dir: string;
let server: TestServer;
let zone: RunningZone;
let takingZone: TakingZone;

beforeAll(async () => {
  dir = await tempDir('chartd-openapi-');
  const charts = join(dir, 'charts');
  await mkdir(charts);
  await mkdir(join(dir, 'storage'));
  await writeCharts(charts, { 'traffic-light.yaml': TRAFFIC_LIGHT });
  await copyFile('charts/backup-request.yaml', join(charts, 'backup-request.yaml'));
  await writeFile(join(dir, 'auth.yaml'), AUTH);
  // The backup controller on, so its routes are registered too.
  takingZone = await startTakingZone();
  process.env['CHARTD_OPENAPI_TEST_ZONE'] = newToken();
  process.env['CHARTD_OPENAPI_TEST_RESULTS'] = newToken();
  const backupConfig = await takingZone.writeConfig(dir, { zoneToken: 'CHARTD_OPENAPI_TEST_ZONE', resultsToken: 'CHARTD_OPENAPI_TEST_RESULTS' });
  server = await startTestServer({ chartDir: charts, dataDir: join(dir, 'data'), defaultChart: 'traffic-light', authFile: join(dir, 'auth.yaml'), backupConfig });
  await server.engine.runtime.create('traffic-light', DOOMED, {});
  zone = await startZoneServer({
    name: 'east', storageRoot: join(dir, 'storage'), dataDir: join(dir, 'zone-data'), port: 0, host: '127.0.0.1',
    controllerUrl: 'http://127.0.0.1:9', controllerToken: { env: 'CHARTD_OPENAPI_TEST_RESULTS' }, authFile: join(dir, 'auth.yaml'), log: createLogger('silent'),
  });
});

afterAll(async () => {
  await server?.close();
  await zone?.close();
  await takingZone?.close();
  await removeDir(dir);
});

const kinds = () => [
  { kind: 'serve', url: server.url, app: server.app, document: serveDescription(packageVersion()) },
  { kind: 'zone', url: zone.url, app: zone.app, document: zoneDescription(packageVersion()) },
];

describe('the description and the routers', () => {
  it('documents every route each server registers, and no route it does not', () => {
    for (const { kind, app, document } of kinds()) {
      const { routes, headWithoutGet } = registeredRoutes(app);
      const documented = operationsOf(document).map(({ method, path }) => `${method} ${path}`).sort();
      expect({ kind, undocumented: routes.filter((route) => !documented.includes(route)) }).toEqual({ kind, undocumented: [] });
      expect({ kind, missing: documented.filter((route) => !routes.includes(route)) }).toEqual({ kind, missing: [] });
      expect(headWithoutGet).toEqual([]);
    }
    expect(registeredRoutes(server.app).routes.length).toBeGreaterThan(35);
  });

  it('is valid OpenAPI 3.1 whose references all resolve, whose schemas compile strictly and whose operation ids are unique', async () => {
    for (const { kind, document } of kinds()) {
      const validator = new Validator();
      const result = await validator.validate(structuredClone(document));
      expect({ kind, ...result }).toEqual({ kind, valid: true });
      expect(validator.version).toBe('3.1');
      expect(() => schemaChecker(document)).not.toThrow();
      for (const { operation } of operationsOf(document)) expect(operation['x-chartd-scope']).toEqual(expect.any(String));
      const ids = operationsOf(document).map(({ operation }) => operation['operationId']);
      expect(new Set(ids).size).toBe(ids.length);
    }
  });

  it('says which option brings the routes that exist only with it', () => {
    const backupOnes = operationsOf(serveDescription('0')).filter(({ path }) => /^\/(backup|zone-results)/.test(path));
    expect(backupOnes.length).toBe(6);
    for (const { operation } of backupOnes) {
      expect(operation['x-chartd-requires']).toBe('--backup-config FILE');
      expect(operation['description']).toContain('Only with `--backup-config FILE`.');
    }
  });
});

/** Values for the path parameters and required query parameters of any documented route. */
const VALUES: Record<string, string> = { chart: 'traffic-light', id: 'default', event: 'go', view: 'instances', file: 'missing.js', state: 'green_state' };

/** The instance the life-cycle routes cancel, restart and delete, so that the others keep theirs. */
const DOOMED = 'doomed';
const lifecycleRoute = ({ method, path }: Documented): boolean => /\/(cancel|restart)$/.test(path) || (method === 'DELETE' && path.endsWith('/instances/{id}'));

function urlOf(document: Json, documented: Documented): string {
  const { path, operation } = documented;
  const values = lifecycleRoute(documented) ? { ...VALUES, id: DOOMED } : VALUES;
  const required = ((operation['parameters'] ?? []) as Json[]).map((each) => resolve(document, each)).filter((each) => each['in'] === 'query' && each['required']);
  const query = new URLSearchParams(required.map((each): [string, string] => [each['name'] as string, VALUES[each['name'] as string]!]));
  return path.replace(/\{(\w+)\}/g, (_, name: string) => values[name]!) + (required.length ? `?${query}` : '');
}

async function call(base: string, method: string, path: string, token: string | undefined): Promise<{ status: number; type: string; body: unknown }> {
  const response = await fetch(`${base}${path}`, { method, redirect: 'manual', headers: token ? { authorization: `Bearer ${token}` } : {} });
  const type = response.headers.get('content-type') ?? '';
  // A watch stream stays open: its head is the answer.
  if (type.startsWith('text/event-stream')) {
    await response.body?.cancel();
    return { status: response.status, type, body: undefined };
  }
  return { status: response.status, type, body: type.startsWith('application/json') ? await response.json() : await response.text() };
}

/** Whether a token of scope `held` may do what `role` asks, as the security scheme describes it. */
const mayDo = (held: Held | 'anonymous', role: Role): boolean => role === 'none' || held === role || (held === 'admin' && role !== 'results');

describe('each documented scope is the one the guard enforces', () => {
  it('refuses (401/403) a request without the documented scope and lets one with it through, with a documented answer of the documented shape', async () => {
    const problems: string[] = [];
    let checked = 0;
    for (const { kind, url, document } of kinds()) {
      const check = schemaChecker(document);
      for (const documented of operationsOf(document)) {
        const target = urlOf(document, documented);
        for (const held of ['anonymous', 'read', 'write', 'admin', 'results', 'elsewhere'] as const) {
          const token = held === 'anonymous' ? undefined : TOKENS[held];
          const { status, type, body } = await call(url, documented.method, target, token);
          const where = `${kind}: ${documented.method} ${target} with ${held === 'anonymous' ? 'no token' : `the ${held} token`}: ${status}`;
          const refused = status === 401 || status === 403;
          if (refused === mayDo(held, documented.role)) problems.push(`${where}, but the description says it needs ${documented.role}`);
          const answer = (documented.operation['responses'] as Json)[String(status)] as Json | undefined;
          if (!answer) {
            problems.push(`${where}, a status the description does not list`);
            continue;
          }
          const content = resolve(document, answer)['content'] as Record<string, { schema: Json }> | undefined;
          const media = Object.keys(content ?? {}).find((each) => type.startsWith(each));
          if (content && !media) problems.push(`${where} as ${type}, but the description says ${Object.keys(content).join(', ')}`);
          if (media === 'application/json') problems.push(...check(content![media]!.schema, body).map((error) => `${where}: the body does not fit: ${error}`));
          checked += 1;
        }
      }
    }
    expect(problems).toEqual([]);
    expect(checked).toBeGreaterThan(250);
  });
});

describe('GET /openapi.json', () => {
  it('answers each server\'s own description without a token, with an ETag and 304 for If-None-Match', async () => {
    for (const { kind, url, document } of kinds()) {
      const response = await fetch(`${url}/openapi.json`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^application\/json/);
      expect(await response.json()).toEqual(document);
      const etag = response.headers.get('etag')!;
      expect(etag, kind).toMatch(/^"[^"]+"$/);
      const again = await fetch(`${url}/openapi.json`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }
    const [serve, ofZone] = kinds();
    expect(Object.keys(serve!.document['paths'] as Json)).toContain('/charts/{chart}/instances/{id}/state');
    expect(Object.keys(ofZone!.document['paths'] as Json)).toEqual(expect.arrayContaining(['/orders', '/orders/{id}', '/healthz', '/readyz', '/services', '/openapi.json']));
    expect(Object.keys(ofZone!.document['paths'] as Json)).not.toContain('/state');
  });
});
