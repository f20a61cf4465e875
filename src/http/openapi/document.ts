// The OpenAPI 3.1 description of each server kind, kept by hand as the contract the routes are tested against.

import { RESPONSES } from './answers.js';
import { BACKUP_PATHS, ZONE_PATHS } from './backupPaths.js';
import { BACKUP_SCHEMAS } from './backupSchemas.js';
import { componentsFor, type Json } from './build.js';
import { CHART_PATHS } from './chartPaths.js';
import { describing, MONITOR_PATHS, SERVICE_PATHS } from './monitorPaths.js';
import { HEADERS, PARAMETERS } from './parameters.js';
import { SCHEMAS } from './schemas.js';
import { STATE_PATHS } from './statePaths.js';

const SHARED = { schemas: { ...SCHEMAS, ...BACKUP_SCHEMAS }, parameters: PARAMETERS, responses: RESPONSES, headers: HEADERS };

const EVERY_ROUTE = [
  'HEAD answers on every GET route, as GET without the body. A method a path does not take is 405 with Allow; a path no route has, 404; both with the error body.',
  'Errors are JSON `{"error": {"code", "message"}}`. Bodies are JSON of at most 64 KiB (413 beyond, 415 when not JSON).',
  'Names of charts, instances, events and callers are letters, digits and `. _ - : @`, at most 128; a state is named as any printable text up to 255 bytes, percent-encoded.',
  'Reference and examples: docs/http.md; who may do what: docs/security.md.',
].join('\n\n');

const BEARER = {
  type: 'http', scheme: 'bearer',
  description: 'Tokens from the --auth file, sent as `Authorization: Bearer TOKEN`. An operation\'s role is the scope its guard asks for, ' +
    'and x-chartd-scope says it exactly: read; write (on the chart named, by the token\'s write patterns); admin, which holds read and write on every chart; ' +
    'results, which only zones hold. Without --auth, chartd listens on loopback only and every request may do anything but deliver zone results; ' +
    'an auth file with `reads: open` lets reads go without a token.',
};

const TAGS = [
  { name: 'StateService', description: 'GET/PUT /state?state=S: 200 yes, 406 no, as StateService answered' },
  { name: 'charts', description: 'the charts served' },
  { name: 'instances', description: 'instances of a chart: create, read, send events, watch' },
  { name: 'monitoring', description: 'health, readiness, services, the overview and this description' },
  { name: 'access', description: 'who a token is and what it may do' },
  { name: 'dashboard', description: 'the web dashboard\'s files' },
  { name: 'backup controller', description: 'backup requests, results and backups (--backup-config)' },
  { name: 'zone', description: 'the built-in backup zone\'s orders' },
];

/** The tags the operations of `paths` name. */
function tagsOf(paths: Json): Json[] {
  const named = new Set(Object.values(paths).flatMap((item) => Object.values(item as Json)).flatMap((each) => (each as { tags: string[] }).tags));
  return TAGS.filter((tag) => named.has(tag.name));
}

function document(title: string, summary: string, version: string, paths: Json): Json {
  return {
    openapi: '3.1.1',
    info: { title, summary, description: EVERY_ROUTE, version, license: { name: 'MIT', identifier: 'MIT' } },
    tags: tagsOf(paths),
    paths,
    components: { ...componentsFor(paths, SHARED), securitySchemes: { bearer: BEARER } },
  };
}

/** `chartd serve`: every route, those only an option brings saying which. */
export function serveDescription(version: string): Json {
  return document('chartd serve', 'State charts in YAML, served over HTTP: StateService\'s GET/PUT /state and chartd\'s own routes.', version, {
    ...STATE_PATHS, ...CHART_PATHS, ...MONITOR_PATHS, ...BACKUP_PATHS,
  });
}

/** `chartd zone`: the built-in backup zone. */
export function zoneDescription(version: string): Json {
  return document('chartd zone', 'A backup zone: takes the controller\'s orders, runs backup-and-encrypt for each, delivers the results.', version, {
    ...ZONE_PATHS, ...SERVICE_PATHS, ...describing('zone'),
  });
}
