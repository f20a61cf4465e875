// The auth file (`--auth FILE`): named tokens, kept only as hashes, each with its scopes; every problem reported at once.

import { ChartInvalid, didYouMean, ProblemLog } from '../chart/problem.js';
import { isRecord, parseYaml, readYamlFile, type YamlDocument } from '../chart/yamlSource.js';
import { AccessPolicy, type Grant, type TokenEntry } from './policy.js';
import { parseHash } from './tokens.js';

export interface AuthConfig {
  readonly file: string;
  readonly reads: 'open' | 'token';
  readonly tokens: readonly TokenEntry[];
}

export const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}$/;
const CHART_PATTERN = /^[A-Za-z0-9._*-]{1,64}$/;
const CALLER_PATTERN = /^[A-Za-z0-9._:@*-]{1,128}$/;
const SCOPES = ['read', 'write', 'admin', 'results'] as const;
const TOKEN_KEYS = ['hash', 'scopes', 'callers'];

/** Reads and checks the file; throws ChartInvalid listing every problem as file:line: path: message. */
export async function loadAuthConfig(file: string): Promise<AuthConfig> {
  const doc = await readYamlFile(file, 'auth file');
  try {
    return checkAuthConfig(doc, file);
  } catch (error) {
    if (error instanceof ChartInvalid) throw new ChartInvalid(error.problems, [], 'auth file has problems');
    throw error;
  }
}

/** Throws ChartInvalid with every problem of the text. */
export function parseAuthConfig(source: string, file: string): AuthConfig {
  return checkAuthConfig(parseYaml(source, file), file);
}

function checkAuthConfig(doc: YamlDocument, file: string): AuthConfig {
  const log = new ProblemLog(file, doc.lineOf);
  const root = doc.value;
  for (const key of Object.keys(root)) {
    if (key !== 'reads' && key !== 'tokens') log.add(key, `unknown key '${key}'${didYouMean(key, ['reads', 'tokens'])}; the auth file has reads and tokens`);
  }
  const reads = root['reads'] ?? 'token';
  if (reads !== 'open' && reads !== 'token') log.add('reads', "reads is 'token' (every read needs a token with the read scope; the default) or 'open' (anyone who can reach chartd may read)");
  const tokens: TokenEntry[] = [];
  const raw = root['tokens'];
  if (!isRecord(raw) || Object.keys(raw).length === 0) {
    log.add(raw === undefined ? '' : 'tokens', 'tokens: names at least one token; `chartd token new NAME --scope read` makes one and prints the lines to add');
  } else {
    const seen = new Map<string, string>();
    for (const [name, entry] of Object.entries(raw)) {
      const parsed = parseEntry(name, entry, `tokens.${name}`, log);
      if (!parsed) continue;
      const key = parsed.digest.toString('hex');
      const twin = seen.get(key);
      if (twin !== undefined) log.add(`tokens.${name}.hash`, `the same hash as token ${twin}; every token needs its own, or history could not tell them apart`);
      seen.set(key, name);
      tokens.push(parsed);
    }
  }
  if (!log.empty) throw new ChartInvalid(log.sorted());
  return { file, reads: reads as 'open' | 'token', tokens };
}

export function policyOf(config: AuthConfig): AccessPolicy {
  return AccessPolicy.withTokens(config.tokens, config.reads);
}

function parseEntry(name: string, entry: unknown, path: string, log: ProblemLog): TokenEntry | undefined {
  if (!TOKEN_NAME.test(name)) log.add(path, `token name '${name}': use 1-64 letters, digits, . _ - : @, starting with a letter or digit (it is recorded in history)`);
  if (!isRecord(entry)) {
    log.add(path, 'a token is a mapping with hash: and scopes:, e.g. { hash: "sha256:…", scopes: [read] }');
    return undefined;
  }
  for (const key of Object.keys(entry)) {
    if (key === 'token' || key === 'secret' || key === 'value') {
      log.add(`${path}.${key}`, 'the file keeps only hashes, never a token itself: `chartd token hash` reads a token on standard input and prints the hash to put here');
    } else if (!TOKEN_KEYS.includes(key)) {
      log.add(`${path}.${key}`, `unknown key '${key}'${didYouMean(key, TOKEN_KEYS)}; a token takes hash, scopes and callers`);
    }
  }
  let digest: Buffer | undefined;
  if (typeof entry['hash'] !== 'string') {
    log.add(path, "missing hash: (the line `chartd token new` printed, e.g. hash: 'sha256:…')");
  } else {
    digest = parseHash(entry['hash']);
    if (!digest) log.add(`${path}.hash`, 'a hash is sha256: followed by 64 hex digits, as `chartd token new` or `chartd token hash` print it');
  }
  const grants = parseScopes(entry['scopes'], `${path}.scopes`, log);
  const callers = parsePatterns(entry['callers'], `${path}.callers`, log, CALLER_PATTERN, 'caller patterns are names (letters, digits, . _ - : @) with * for any run of characters, e.g. web-*');
  if (!digest || !grants) return undefined;
  return { digest, principal: { name, grants, ...(callers ? { callers } : {}) } };
}

function parseScopes(raw: unknown, path: string, log: ProblemLog): Grant[] | undefined {
  const hint = 'scopes is a list of read, write, admin, results, or write: [CHART-PATTERN, …] for some charts only';
  if (!Array.isArray(raw) || raw.length === 0) {
    log.add(path, raw === undefined ? `missing scopes: ${hint}` : hint);
    return undefined;
  }
  const grants: Grant[] = [];
  raw.forEach((item, index) => {
    const at = `${path}[${index}]`;
    if (typeof item === 'string') {
      if (item === 'write') grants.push({ scope: 'write', charts: ['*'] });
      else if (item === 'read' || item === 'admin' || item === 'results') grants.push({ scope: item });
      else log.add(at, `unknown scope '${item}'${didYouMean(item, SCOPES)}; ${hint}`);
      return;
    }
    if (isRecord(item) && Object.keys(item).length === 1 && 'write' in item) {
      const charts = parsePatterns(item['write'], `${at}.write`, log, CHART_PATTERN, 'chart patterns are chart names with * for any run of characters, e.g. rolling-*');
      if (charts) grants.push({ scope: 'write', charts });
      return;
    }
    log.add(at, hint);
  });
  return grants;
}

function parsePatterns(raw: unknown, path: string, log: ProblemLog, pattern: RegExp, hint: string): string[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.length === 0) {
    log.add(path, `a non-empty list: ${hint}`);
    return undefined;
  }
  const patterns: string[] = [];
  raw.forEach((item, index) => {
    if (typeof item === 'string' && pattern.test(item)) patterns.push(item);
    else log.add(`${path}[${index}]`, `'${String(item)}': ${hint}`);
  });
  return patterns.length === raw.length ? patterns : undefined;
}
