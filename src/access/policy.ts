// Who may do what: principals with scopes, what each request needs, and the answer to "may this one do that?".

import { hash, timingSafeEqual } from 'node:crypto';

/** A scope a principal holds; `write` names the charts it covers as patterns (`*` = any run of characters). */
export type Grant =
  | { readonly scope: 'read' }
  | { readonly scope: 'write'; readonly charts: readonly string[] }
  | { readonly scope: 'admin' }
  | { readonly scope: 'results' };

/** What a request needs: a read, a write to one chart, chart management, or delivering a zone's result. */
export type Need =
  | { readonly scope: 'open' }
  | { readonly scope: 'read' }
  | { readonly scope: 'write'; readonly chart: string }
  | { readonly scope: 'admin' }
  | { readonly scope: 'results' };

export interface Principal {
  /** The token's name in the auth file, recorded in history; `anonymous` when no token was needed. */
  readonly name: string;
  readonly grants: readonly Grant[];
  /** Callers (`by=`) this principal may speak for, as patterns; undefined = any. */
  readonly callers?: readonly string[];
  /** True for the stand-in of a request that presented no token. */
  readonly anonymous?: boolean;
}

/** A known token: its SHA-256 digest (never the token itself) and who it stands for. */
export interface TokenEntry {
  readonly digest: Buffer;
  readonly principal: Principal;
}

export const ANYONE_ON_LOOPBACK: Principal = {
  name: 'anonymous', anonymous: true, grants: [{ scope: 'read' }, { scope: 'write', charts: ['*'] }, { scope: 'admin' }],
};
const READ_ONLY: Principal = { name: 'anonymous', anonymous: true, grants: [{ scope: 'read' }] };
const NOBODY: Principal = { name: 'anonymous', anonymous: true, grants: [] };

/**
 * The access rules of one server: its tokens and what a request without one may do. Without authentication
 * (loopback only, or --insecure-no-auth) anyone may do anything but deliver zone results, which always needs
 * the results token.
 */
export class AccessPolicy {
  /** The known tokens by their digest (as a byte string): a request's token is looked up, not compared with each. */
  private readonly byDigest: ReadonlyMap<string, TokenEntry>;

  constructor(
    private readonly tokens: readonly TokenEntry[],
    /** What a request without a token may do. */
    readonly anonymous: Principal,
    /** Whether tokens are checked at all (false = no --auth). */
    readonly authenticating: boolean,
  ) {
    this.byDigest = new Map(tokens.map((entry) => [entry.digest.toString('latin1'), entry]));
  }

  static open(extra: readonly TokenEntry[] = []): AccessPolicy {
    return new AccessPolicy(extra, ANYONE_ON_LOOPBACK, false);
  }

  static withTokens(tokens: readonly TokenEntry[], reads: 'open' | 'token'): AccessPolicy {
    return new AccessPolicy(tokens, reads === 'open' ? READ_ONLY : NOBODY, true);
  }

  /** The same rules with more tokens (e.g. a service's own token for its route). */
  plus(extra: readonly TokenEntry[]): AccessPolicy {
    return new AccessPolicy([...this.tokens, ...extra], this.anonymous, this.authenticating);
  }

  /**
   * The principal a bearer token stands for, or undefined when no token matches. The token is hashed first and
   * found by its hash, then the two hashes are compared in constant time: how long that takes can only tell a
   * guesser how its guess's SHA-256 compares with a real token's, which says nothing about the real token.
   */
  identify(token: string): Principal | undefined {
    const digest = digestOf(token);
    const entry = this.byDigest.get(digest.toString('latin1'));
    return entry && timingSafeEqual(digest, entry.digest) ? entry.principal : undefined;
  }
}

/** SHA-256 of a token; one-shot, which spares the request path a Hash object per token. */
export function digestOf(token: string): Buffer {
  return hash('sha256', token, 'buffer');
}

/** Whether `principal` may do what `need` asks. */
export function allows(principal: Principal, need: Need): boolean {
  if (need.scope === 'open') return true;
  return principal.grants.some((grant) => covers(grant, need));
}

function covers(grant: Grant, need: Exclude<Need, { scope: 'open' }>): boolean {
  switch (need.scope) {
    case 'results':
      return grant.scope === 'results';
    case 'admin':
      return grant.scope === 'admin';
    case 'read':
      return grant.scope === 'read' || grant.scope === 'admin';
    case 'write':
      return grant.scope === 'admin' || (grant.scope === 'write' && grant.charts.some((pattern) => matchesPattern(pattern, need.chart)));
  }
}

/** Whether `principal` may name `caller` as who it is (`by=`). */
export function maySpeakFor(principal: Principal, caller: string): boolean {
  return principal.callers === undefined || principal.callers.some((pattern) => matchesPattern(pattern, caller));
}

/** The caller a principal bound to exactly one literal caller speaks for when it names none. */
export function impliedCaller(principal: Principal): string | undefined {
  const only = principal.callers?.length === 1 ? principal.callers[0] : undefined;
  return only !== undefined && !only.includes('*') ? only : undefined;
}

/** `*` matches any run of characters (none included); everything else matches itself. */
export function matchesPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*')) return pattern === name;
  const parts = pattern.split('*');
  const first = parts[0]!;
  const last = parts[parts.length - 1]!;
  if (name.length < first.length + last.length || !name.startsWith(first) || !name.endsWith(last)) return false;
  let at = first.length;
  const end = name.length - last.length;
  for (const part of parts.slice(1, -1)) {
    const found = name.indexOf(part, at);
    if (found === -1 || found + part.length > end) return false;
    at = found + part.length;
  }
  return true;
}

/** "read, write (traffic-light, rolling-*)": what a principal holds, for 403 messages. */
export function describeGrants(grants: readonly Grant[]): string {
  if (grants.length === 0) return 'no scopes';
  return grants.map((grant) => (grant.scope === 'write' ? `write (${grant.charts.join(', ')})` : grant.scope)).join(', ');
}

/** "write on chart traffic-light": what a need asks for, for 403 messages. */
export function describeNeed(need: Need): string {
  switch (need.scope) {
    case 'write':
      return `write on chart ${need.chart}`;
    case 'results':
      return 'results (the token zones deliver backup results with)';
    default:
      return need.scope;
  }
}
