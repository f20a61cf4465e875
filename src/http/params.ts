// Reads and checks request parameters: names, durations, callers, JSON bodies with a size cap.

import type { Context } from 'koa';
import { parseDuration } from '../chart/duration.js';
import { stateNameProblem } from '../chart/stateName.js';
import { BadRequest, ClientGone, PayloadTooLarge, UnsupportedMediaType } from '../errors.js';
import { checkDepth } from '../jsonDepth.js';

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;
export const BODY_LIMIT = 64 * 1024;
/** A reason given with a cancel, restart or delete: a sentence, not a document. */
export const MAX_FIELD_CHARS = 1000;
/** Room for a context at its own limit (MAX_CONTEXT_DEPTH) inside a request's envelope, and far below the stack's. */
export const BODY_DEPTH_LIMIT = 64;
export const MAX_WAIT_MS = 10 * 60 * 1000;
/** Items a list answers with unless `limit` says otherwise, and the most one page holds. */
export const DEFAULT_PAGE = 1000;
export const MAX_PAGE = 10_000;

// Koa's ctx.query copies each parameter into a new object with defineProperty: ~15 µs of CPU per GET, a third of
// what a bare Koa answer costs (bench/README.md). The URLSearchParams it is built from is read directly instead.
const searchParamsOf = new WeakMap<Context, URLSearchParams>();

function searchParams(ctx: Context): URLSearchParams {
  let params = searchParamsOf.get(ctx);
  if (!params) searchParamsOf.set(ctx, (params = new URLSearchParams(ctx.querystring)));
  return params;
}

/** A single query parameter; repeated or empty values are refused. */
export function queryParam(ctx: Context, name: string): string | undefined {
  const values = searchParams(ctx).getAll(name);
  if (values.length === 0) return undefined;
  if (values.length > 1) throw new BadRequest(`query parameter ${name} is given ${values.length} times; give it once`);
  if (values[0] === '') throw new BadRequest(`query parameter ${name} is empty`);
  return values[0];
}

export function optionalName(ctx: Context, name: string): string | undefined {
  const value = queryParam(ctx, name);
  return value === undefined ? undefined : checkName(value, `query parameter ${name}`);
}

/**
 * The state a request asks about: any name a StateService chart may give a state (spaces, any letter, '/', …),
 * percent-encoded in the query. It is only compared with the chart's names, never used as a key or a path.
 */
export function requiredState(ctx: Context): string {
  const value = queryParam(ctx, 'state');
  if (value === undefined) throw new BadRequest('query parameter state is missing; e.g. ?state=green_state', 'missing_parameter');
  return checkState(value);
}

export function optionalState(ctx: Context): string | undefined {
  const value = queryParam(ctx, 'state');
  return value === undefined ? undefined : checkState(value);
}

function checkState(value: string): string {
  const problem = stateNameProblem(value);
  if (problem) throw new BadRequest(`query parameter state ${JSON.stringify(value.slice(0, 80))} ${problem}; percent-encode the state's name, e.g. ?state=Gr%C3%BCn%20Phase`, 'invalid_name');
  return value;
}

export function checkName(value: string, what: string): string {
  if (!NAME_PATTERN.test(value)) {
    throw new BadRequest(`${what} ${JSON.stringify(value.slice(0, 80))} is not a valid name: use letters, digits, . _ - : @ (at most 128, starting with a letter or digit)`, 'invalid_name');
  }
  return value;
}

/** The caller of a PUT or event: `by=` or the X-Chartd-Caller header. */
export function caller(ctx: Context): string | undefined {
  const fromQuery = optionalName(ctx, 'by');
  if (fromQuery) return fromQuery;
  const header = ctx.get('x-chartd-caller');
  return header ? checkName(header, 'header X-Chartd-Caller') : undefined;
}

/** `wait=30s` for long-polls, capped at ten minutes. */
export function waitParam(ctx: Context): number | undefined {
  const text = queryParam(ctx, 'wait');
  if (text === undefined) return undefined;
  let ms: number;
  try {
    ms = parseDuration(text);
  } catch (error) {
    throw new BadRequest(`query parameter wait: ${(error as Error).message}`);
  }
  return Math.min(ms, MAX_WAIT_MS);
}

export function indexParam(ctx: Context): number | undefined {
  const text = queryParam(ctx, 'index');
  if (text === undefined) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new BadRequest('query parameter index must be a revision number, e.g. ?index=12&wait=60s');
  return Number(text);
}

/** `limit=N` of a paged list: a whole number from 1 to MAX_PAGE, DEFAULT_PAGE when absent. */
export function limitParam(ctx: Context): number {
  const text = queryParam(ctx, 'limit');
  if (text === undefined) return DEFAULT_PAGE;
  const limit = /^\d{1,6}$/.test(text) ? Number(text) : Number.NaN;
  if (!(limit >= 1 && limit <= MAX_PAGE)) throw new BadRequest(`query parameter limit must be a whole number from 1 to ${MAX_PAGE}, e.g. ?limit=100`);
  return limit;
}

/** The path of a paged list's next page: `path` with the filters named in `keep` as given, going on after `after`. */
export function nextPage(ctx: Context, path: string, keep: readonly string[], after: string, limit: number): string {
  const query = new URLSearchParams();
  for (const name of keep) {
    const value = queryParam(ctx, name);
    if (value !== undefined) query.set(name, value);
  }
  query.set('after', after);
  query.set('limit', String(limit));
  return `${path}?${query}`;
}

/** Reads a JSON body of at most BODY_LIMIT bytes nesting at most BODY_DEPTH_LIMIT levels; an absent body reads as `{}`. */
export async function readJson(ctx: Context): Promise<unknown> {
  const bytes = await readBody(ctx, BODY_LIMIT);
  if (bytes.length === 0) return {};
  if (!ctx.is('application/json', '+json')) {
    throw new UnsupportedMediaType('send the body as JSON with Content-Type: application/json');
  }
  let body: unknown;
  try {
    // JSON.parse does not recurse, however deep the text nests; what reads the value afterwards may.
    body = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new BadRequest(`request body is not valid JSON: ${(error as Error).message}`, 'invalid_json');
  }
  checkDepth(body, BODY_DEPTH_LIMIT, 'request body', 'send flatter JSON');
  return body;
}

/**
 * A JSON object body whose fields, all optional, are among `fields` and are strings of at most MAX_FIELD_CHARS
 * (e.g. a cancel's reason); an absent body gives none. `example` shows the shape in the refusal.
 */
export async function readTextFields<F extends string>(ctx: Context, fields: readonly F[], example: string): Promise<Partial<Record<F, string>>> {
  const body = await readJson(ctx);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new BadRequest(`body must be a JSON object like ${example}`);
  const found: Partial<Record<F, string>> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!(fields as readonly string[]).includes(key)) throw new BadRequest(`unknown field ${JSON.stringify(key.slice(0, 80))} in body; it takes ${fields.join(', ')}, e.g. ${example}`);
    if (typeof value !== 'string' || value.length > MAX_FIELD_CHARS) throw new BadRequest(`${key} must be a string of at most ${MAX_FIELD_CHARS} characters`);
    found[key as F] = value;
  }
  return found;
}

/**
 * A text body of one of `types` (e.g. a chart's YAML), UTF-8, at most `limit` bytes. Refused: another type (415),
 * a larger or empty body, text that is not UTF-8. `what` names it in the refusals.
 */
export async function readText(ctx: Context, types: readonly string[], limit: number, what: string): Promise<string> {
  if (!ctx.is(...types)) throw new UnsupportedMediaType(`send ${what} with Content-Type: ${types[0]} (or ${types.slice(1).join(', ')})`);
  const charset = ctx.request.charset;
  if (charset && charset.toLowerCase() !== 'utf-8') throw new UnsupportedMediaType(`send ${what} as UTF-8 (charset=utf-8), not ${charset}`);
  const bytes = await readBody(ctx, limit);
  if (bytes.length === 0) throw new BadRequest(`the body is empty; send ${what}`);
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new BadRequest(`${what} is not valid UTF-8 text`, 'invalid_encoding');
  }
}

/** The body, at most `limit` bytes; the request stream fails only when the client broke it off. */
async function readBody(ctx: Context, limit: number): Promise<Buffer> {
  const length = Number(ctx.get('content-length') || 0);
  if (length > limit) throw new PayloadTooLarge(`request body is ${length} bytes; the limit is ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > limit) break;
      chunks.push(chunk);
    }
  } catch (error) {
    throw new ClientGone(`the request body broke off after ${size} bytes: ${(error as Error).message}`);
  }
  if (size > limit) throw new PayloadTooLarge(`request body is over the limit of ${limit} bytes`);
  return Buffer.concat(chunks);
}
