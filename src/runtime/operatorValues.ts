// The operator's values file (--values FILE): the environment variables handlers may read, each chart's settings, and the services.

import type { Chart } from '../chart/model.js';
import { didYouMean, formatProblem, listNames, ProblemLog, type Problem } from '../chart/problem.js';
import { parseTemplate, SETTINGS_PREFIX } from '../chart/template.js';
import { isRecord, readYamlFile } from '../chart/yamlSource.js';
import type { Context } from '../engine/snapshot.js';
import type { HandlerLookup } from '../handlers/handler.js';
import { DEFAULT_SERVICES, readServicesConfig, type ServicesConfig } from '../services/servicesConfig.js';
import type { InputChecker } from './inputChecker.js';

export interface OperatorValues {
  /** Where the values came from, for messages; undefined when no file was given. */
  readonly file?: string;
  /** The only server environment variables handlers may read. */
  readonly environment: readonly string[];
  /** Each chart's settings as written, by chart name. */
  readonly charts: Readonly<Record<string, Context>>;
  /** Which services run and are kept alive, and the supervisor's back-off (supervisor: and services:). */
  readonly services: ServicesConfig;
  /** 1-based line of a YAML path in the file, for problems found once the charts are loaded. */
  lineOf(path: string): number;
}

export const NO_VALUES: OperatorValues = { environment: [], charts: {}, services: DEFAULT_SERVICES, lineOf: () => 0 };

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const TOP_LEVEL = ['environment', 'charts', 'supervisor', 'services'];

/** Reads and checks the file's shape; throws one Error listing every problem (file:line: path: message). */
export async function loadOperatorValues(file: string): Promise<OperatorValues> {
  const doc = await readYamlFile(file, 'values file');
  const log = new ProblemLog(file, doc.lineOf);
  const { value } = doc;
  for (const key of Object.keys(value)) {
    if (!TOP_LEVEL.includes(key)) log.add(key, `unknown key '${key}'${didYouMean(key, TOP_LEVEL)}; a values file has environment: (a list of variable names), charts: (each chart's settings), supervisor: and services: (docs/operations.md)`);
  }
  const environment = value['environment'] ?? [];
  if (!Array.isArray(environment)) log.add('environment', 'environment is a list of the server variables handlers may read, e.g. environment: [PGPASS_SALES]');
  else environment.forEach((name, index) => {
    if (typeof name !== 'string' || !ENV_NAME.test(name)) log.add(`environment[${index}]`, `${JSON.stringify(name)} is not an environment variable name (letters, digits and _, not starting with a digit)`);
  });
  const charts = value['charts'] ?? {};
  if (!isRecord(charts)) log.add('charts', 'charts maps each chart name to its settings, e.g. charts: { backup-and-encrypt: { storage_root: /srv/backups } }');
  else for (const [name, settings] of Object.entries(charts)) {
    if (!isRecord(settings)) log.add(`charts.${name}`, `give chart ${name}'s settings as a mapping (KEY: VALUE lines)`);
  }
  const services = readServicesConfig(value['supervisor'], value['services'], log);
  if (!log.empty) throw new Error(`values file has problems:\n${log.sorted().map(formatProblem).join('\n')}`);
  return { file, environment: environment as string[], charts: charts as Record<string, Context>, services, lineOf: doc.lineOf };
}

/**
 * Problems of the values against the charts served, every one at once: unknown chart names, settings their
 * schema refuses, and a setting that names a variable for a handler to read but is not in environment:.
 * Required settings left out are not problems here: a chart without them serves, but creates no instance.
 */
export function checkOperatorValues(values: OperatorValues, charts: readonly Chart[], inputs: InputChecker, handlers: HandlerLookup): Problem[] {
  const log = new ProblemLog(values.file ?? '--values', (path) => values.lineOf(path));
  const names = charts.map((chart) => chart.name);
  for (const [name, settings] of Object.entries(values.charts)) {
    const chart = charts.find((each) => each.name === name);
    if (!chart) {
      log.add(`charts.${name}`, `no chart named ${name} is served${didYouMean(name, names)}; served: ${listNames(names)}`);
      continue;
    }
    for (const problem of inputs.settings(chart, settings).problems) {
      log.add(problem.path ? `charts.${name}.${problem.path}` : `charts.${name}`, problem.message);
    }
    for (const [key, use] of environmentSettings(chart, handlers)) {
      const named = settings[key];
      if (typeof named === 'string' && named !== '' && !values.environment.includes(named)) {
        log.add(`charts.${name}.${key}`, `${named} is read from the server's environment (${use}), but it is not in environment:; add it there`);
      }
    }
  }
  return log.sorted();
}

/** Settings a chart passes whole to an argument naming an environment variable, with where: "password_env of step backup_schema". */
function environmentSettings(chart: Chart, handlers: HandlerLookup): Map<string, string> {
  const found = new Map<string, string>();
  for (const state of Object.values(chart.states)) {
    if (state.kind !== 'step') continue;
    for (const [arg, kind] of Object.entries(handlers.get(state.run)?.operatorOwned ?? {})) {
      const template = state.with[arg];
      if (kind !== 'env' || typeof template !== 'string') continue;
      const [only, ...rest] = parseTemplate(template);
      if (rest.length === 0 && typeof only === 'object' && only.filter === undefined && only.key.startsWith(SETTINGS_PREFIX)) {
        const key = only.key.slice(SETTINGS_PREFIX.length);
        if (!found.has(key)) found.set(key, `${arg} of step ${state.name}`);
      }
    }
  }
  return found;
}
