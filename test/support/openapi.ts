// Reading an OpenAPI description against a running server: its operations, the routes a Koa app registered, its schemas.

import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import type Koa from 'koa';

export type Json = Record<string, unknown>;
export type Role = 'none' | 'read' | 'write' | 'admin' | 'results';

export interface Documented {
  readonly method: string;
  readonly path: string;
  readonly operation: Json;
  /** The scope the operation's security requirement names; none for an open route. */
  readonly role: Role;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'];

export function operationsOf(document: Json): Documented[] {
  return Object.entries(document['paths'] as Record<string, Json>).flatMap(([path, item]) => METHODS.filter((method) => item[method]).map((method) => {
    const operation = item[method] as Json;
    const security = operation['security'] as { bearer: Role[] }[];
    return { method: method.toUpperCase(), path, operation, role: security.length === 0 ? 'none' : security[0]!.bearer[0]! };
  }));
}

/** The path templates a Koa route path stands for: `:name` and `*name` become `{name}`; an optional `{…}` group both with and without. */
export function templatesOf(koaPath: string): string[] {
  const optional = /\{([^{}]*)\}/.exec(koaPath);
  if (optional) return [...templatesOf(koaPath.replace(optional[0], '')), ...templatesOf(koaPath.replace(optional[0], optional[1]!))];
  return [koaPath.replace(/[:*](\w+)/g, '{$1}')];
}

interface Layer {
  readonly path: string;
  readonly methods: string[];
}

/** Every `METHOD /template` the app's router registered; HEAD, which the router adds to each GET, is left out. */
export function registeredRoutes(app: Koa): { routes: string[]; headWithoutGet: string[] } {
  const routers = app.middleware.map((middleware) => (middleware as { router?: { stack: Layer[] } }).router).filter((router) => router !== undefined);
  if (routers.length !== 1) throw new Error(`expected one router, found ${routers.length}`);
  const layers = routers[0]!.stack;
  const routes = layers.flatMap((layer) => templatesOf(layer.path).flatMap((path) => layer.methods.filter((method) => method !== 'HEAD').map((method) => `${method} ${path}`)));
  const headWithoutGet = layers.filter((layer) => layer.methods.includes('HEAD') && !layer.methods.includes('GET')).map((layer) => layer.path);
  return { routes: [...new Set(routes)].sort(), headWithoutGet };
}

const SCHEMAS_ID = 'https://chartd.invalid/openapi/schemas';

/**
 * Compiles the description's schemas (strictly: an unknown keyword is an error) and checks a value against any schema
 * in it, closed: an object may hold only the properties the description names, so no field goes undocumented.
 */
export function schemaChecker(document: Json): (schema: Json, value: unknown) => string[] {
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats.default(ajv);
  const absolute = (schema: unknown): Json => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${SCHEMAS_ID}#/$defs/`), closing) as Json;
  const schemas = (document['components'] as { schemas: Json }).schemas;
  ajv.addSchema(absolute({ $id: SCHEMAS_ID, $defs: schemas }));
  for (const name of Object.keys(schemas)) ajv.getSchema(`${SCHEMAS_ID}#/$defs/${name}`);
  return (schema, value) => {
    const validate = ajv.compile(absolute(schema));
    return validate(value) ? [] : (validate.errors ?? []).map((error) => `${error.instancePath || '/'} ${error.message ?? ''} ${JSON.stringify(error.params)}`);
  };
}

function closing(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  const schema = value as Json;
  return schema['properties'] && !('additionalProperties' in schema) ? { ...schema, additionalProperties: false } : schema;
}

/** Follows a `$ref` to components/, one level, as parameters and responses use them. */
export function resolve(document: Json, value: Json): Json {
  const target = value['$ref'];
  if (typeof target !== 'string') return value;
  return target.slice(2).split('/').reduce<Json>((node, key) => node[key] as Json, document);
}
