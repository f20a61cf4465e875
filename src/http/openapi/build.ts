// Small builders of the OpenAPI description: an operation from what its route needs, its answers, references to shared parts.

export type Json = Record<string, unknown>;

/** The scope a route's guard asks for, as the security requirement's role: none, read, write, admin or results. */
export type Scope = 'none' | 'read' | 'write' | 'admin' | 'results';

type Shared = 'schemas' | 'parameters' | 'responses' | 'headers';

/** A reference to a part kept once under components/. */
export function ref(kind: Shared, name: string): Json {
  return { $ref: `#/components/${kind}/${name}` };
}

export const schema = (name: string): Json => ref('schemas', name);

/** An object whose listed properties are all required unless named in `optional`. */
export function object(properties: Record<string, Json>, optional: readonly string[] = [], extra: Json = {}): Json {
  const required = Object.keys(properties).filter((key) => !optional.includes(key));
  return { type: 'object', properties, ...(required.length ? { required } : {}), ...extra };
}

export const string = (description?: string, extra: Json = {}): Json => ({ type: 'string', ...(description ? { description } : {}), ...extra });
export const integer = (description?: string, extra: Json = {}): Json => ({ type: 'integer', ...(description ? { description } : {}), ...extra });
export const array = (items: Json, description?: string): Json => ({ type: 'array', items, ...(description ? { description } : {}) });
export const nullable = (of: Json): Json => ({ oneOf: [of, { type: 'null' }] });
export const time = (description?: string): Json => string(description, { format: 'date-time' });

/** A list that comes a page at a time: `next` is the path of the next page, null on the last. */
export function page(key: string, item: Json): Json {
  return object({ [key]: array(item), next: nullable(string('the path of the next page, with the same filters')) });
}

// A type, not an interface, so an answer is also plain Json.
export type Answer = { readonly description: string; readonly headers?: Json; readonly content?: Json };

function headersOf(names: readonly string[]): Json | undefined {
  return names.length ? Object.fromEntries(names.map((name) => [name, ref('headers', name)])) : undefined;
}

function answer(description: string, headers: readonly string[], content?: Json): Answer {
  const named = headersOf(headers);
  return { description, ...(named ? { headers: named } : {}), ...(content ? { content } : {}) };
}

export function json(description: string, body: Json, headers: readonly string[] = []): Answer {
  return answer(description, headers, { 'application/json': { schema: body } });
}

export function text(description: string, headers: readonly string[] = [], type = 'text/plain', body: Json = string()): Answer {
  return answer(description, headers, { [type]: { schema: body } });
}

export function empty(description: string, headers: readonly string[] = []): Answer {
  return answer(description, headers);
}

/** An error answer `{error: {code, message}}` described for one route. */
export function problem(description: string, headers: readonly string[] = []): Answer {
  return json(description, schema('Error'), headers);
}

/** Shared error answers (components/responses), by status. */
const SHARED_ERRORS: Record<number, string> = {
  400: 'BadRequest', 404: 'NotFound', 409: 'Conflict', 413: 'TooLarge', 415: 'NotJson', 422: 'Unprocessable', 503: 'Unavailable',
};

export interface OperationSpec {
  readonly id: string;
  readonly summary: string;
  readonly description?: string;
  readonly tag: string;
  readonly scope: Scope;
  /** What the guard asks, in words (x-chartd-scope); read, admin and none say it themselves. */
  readonly guard?: string;
  /** The option that brings the route (x-chartd-requires); without it the route does not exist. */
  readonly requires?: string;
  /** Shared parameters by name, or parameters of this route alone. */
  readonly params?: readonly (string | Json)[];
  /** A JSON body unless `type` names another media type (e.g. text/yaml). */
  readonly body?: { readonly description: string; readonly schema: Json; readonly required?: boolean; readonly type?: string };
  readonly answers: Readonly<Record<number, Answer>>;
  /** Statuses answered with the shared error answers. */
  readonly errors?: readonly number[];
  /** Answers carry an ETag, and If-None-Match naming it gets 304. */
  readonly conditional?: boolean;
}

const GUARD_SAYS: Partial<Record<Scope, string>> = {
  none: 'none: no token needed (an unknown token is still refused with 401)',
  read: 'read (or admin); no token where the auth file says reads: open',
  admin: 'admin',
};

export function operation(spec: OperationSpec): Json {
  const guard = spec.guard ?? GUARD_SAYS[spec.scope];
  if (guard === undefined) throw new Error(`operation ${spec.id} must say what its ${spec.scope} scope covers`);
  const responses: Record<string, unknown> = {};
  for (const [status, each] of Object.entries(spec.answers)) responses[status] = each;
  if (spec.conditional) responses['304'] = ref('responses', 'NotModified');
  // A body is read only once the guard admitted the request, and can be too large, not JSON, or malformed.
  const errors = [...(spec.errors ?? []), ...(spec.body ? [400, 413, 415] : [])];
  for (const status of errors) responses[status] ??= ref('responses', SHARED_ERRORS[status]!);
  responses['401'] = ref('responses', spec.scope === 'none' ? 'UnknownToken' : 'Unauthorized');
  if (spec.scope !== 'none') responses['403'] ??= ref('responses', 'Forbidden');
  const parameters = [...(spec.params ?? []), ...(spec.conditional ? ['ifNoneMatch'] : [])]
    .map((each) => (typeof each === 'string' ? ref('parameters', each) : each));
  const requires = spec.requires ? `Only with \`${spec.requires}\`.` : undefined;
  const description = [spec.description, requires].filter(Boolean).join('\n\n');
  return {
    operationId: spec.id,
    summary: spec.summary,
    ...(description ? { description } : {}),
    tags: [spec.tag],
    ...(parameters.length ? { parameters } : {}),
    ...(spec.body ? {
      requestBody: { description: spec.body.description, required: spec.body.required ?? true, content: { [spec.body.type ?? 'application/json']: { schema: spec.body.schema } } },
    } : {}),
    responses: Object.fromEntries(Object.entries(responses).sort(([a], [b]) => a.localeCompare(b))),
    security: spec.scope === 'none' ? [] : [{ bearer: [spec.scope] }],
    'x-chartd-scope': guard,
    ...(spec.requires ? { 'x-chartd-requires': spec.requires } : {}),
  };
}

/** The components a document's paths refer to, and those they refer to in turn: nothing unused is listed. */
export function componentsFor(paths: Json, shared: Readonly<Record<Shared, Record<string, Json>>>): Json {
  const used: Record<string, Record<string, Json>> = {};
  const visit = (value: unknown): void => {
    if (Array.isArray(value)) return value.forEach(visit);
    if (value === null || typeof value !== 'object') return;
    for (const [key, item] of Object.entries(value)) {
      const match = key === '$ref' && typeof item === 'string' ? /^#\/components\/(\w+)\/([\w.-]+)$/.exec(item) : null;
      if (!match) {
        visit(item);
        continue;
      }
      const [, kind, name] = match as unknown as [string, Shared, string];
      const part = shared[kind]?.[name];
      if (!part) throw new Error(`the description refers to ${item}, which is not among the shared parts`);
      if (used[kind]?.[name]) continue;
      (used[kind] ??= {})[name] = part;
      visit(part);
    }
  };
  visit(paths);
  return Object.fromEntries(Object.entries(used).map(([kind, parts]) => [kind, Object.fromEntries(Object.entries(parts).sort(([a], [b]) => a.localeCompare(b)))]));
}
