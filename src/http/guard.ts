// The one door of every route: who is asking (bearer token), whether they may, and whose charts are closed to them.

import type Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import type { Logger } from 'pino';
import {
  allows, describeGrants, describeNeed, impliedCaller, maySpeakFor, type AccessPolicy, type Need, type Principal,
} from '../access/policy.js';
import { Forbidden, Unauthorized } from '../errors.js';
import { caller } from './params.js';
import { Throttle } from './throttle.js';

/** A service that drives a chart itself: generic routes may not create, move or send events to its instances. */
export interface ChartOwner {
  readonly service: string;
  /** How clients reach the chart instead, e.g. "POST /backup-requests"; undefined when the service does not run here. */
  readonly route?: string;
  /** How to start the service when it does not run here. */
  readonly enable?: string;
}

export interface GuardOptions {
  readonly policy: AccessPolicy;
  readonly log: Logger;
  /** Realm named in WWW-Authenticate challenges. */
  readonly realm: string;
  /** The owner of a chart, when a built-in service drives it. */
  readonly ownerOf?: (chart: string) => ChartOwner | undefined;
}

/** What a route needs, fixed or read from the request (e.g. the chart in its path). */
export type NeedOf = Need | ((ctx: Context) => Need);

/** What most routes need: the read scope (or no token at all, where reads are open). */
export const READ: Need = { scope: 'read' };
/** What only /healthz needs: nothing, so load balancers and monitors need no token. */
export const OPEN: Need = { scope: 'open' };

const GUARDED = Symbol('chartd.guarded');
const REFUSALS_LOG_INTERVAL_MS = 10_000;

export class Guard {
  private readonly refusals = new Throttle(REFUSALS_LOG_INTERVAL_MS);
  private current: AccessPolicy;

  constructor(private readonly options: GuardOptions) {
    this.current = options.policy;
  }

  get policy(): AccessPolicy {
    return this.current;
  }

  /** Tokens and scopes from a reloaded --auth file: every request from now on is judged by them. */
  set policy(policy: AccessPolicy) {
    this.current = policy;
  }

  /**
   * The principal behind the request, once it may do what `need` asks; throws Unauthorized (no or unknown token)
   * or Forbidden (out of scope) otherwise. Runs before any body is read, so a refused request changes nothing.
   */
  admit(ctx: Context, need: Need): Principal {
    const principal = this.identify(ctx, need);
    if (!allows(principal, need)) {
      if (principal.anonymous) {
        throw this.unauthorized(ctx, need.scope === 'results'
          ? 'this route needs the results token zones present: send Authorization: Bearer TOKEN'
          : `this request needs a token with the scope ${describeNeed(need)}: send Authorization: Bearer TOKEN`);
      }
      this.note(ctx, 'token out of scope', { token: principal.name, needs: describeNeed(need) });
      throw new Forbidden(`token ${principal.name} may not do this: it needs the scope ${describeNeed(need)}, and the token has ${describeGrants(principal.grants)}`);
    }
    ctx.state['principal'] = principal;
    return principal;
  }

  /** admit() for a create, move or event through the generic routes: also refused when a service owns the chart. */
  admitGenericWrite(ctx: Context, chart: string): Principal {
    const principal = this.admit(ctx, { scope: 'write', chart });
    const owner = this.options.ownerOf?.(chart);
    if (owner) {
      const instead = owner.route
        ? `; use ${owner.route}`
        : `, which does not run in this server${owner.enable ? ` (${owner.enable})` : ''}`;
      throw new Forbidden(`chart ${chart} is driven by the ${owner.service}: its instances are created and moved only by that service${instead}`, 'owned_by_service');
    }
    return principal;
  }

  /** Whether `principal` may create, move and send events to `chart`'s instances through the generic routes. */
  mayWriteGeneric(principal: Principal, chart: string): boolean {
    return allows(principal, { scope: 'write', chart }) && this.options.ownerOf?.(chart) === undefined;
  }

  /** Middleware admitting what `need` asks; routes are registered through guardRoutes so none goes without. */
  middleware(need: NeedOf): Middleware {
    const guard: Middleware = (ctx, next) => {
      this.admit(ctx, typeof need === 'function' ? need(ctx) : need);
      return next();
    };
    return Object.assign(guard, { [GUARDED]: true });
  }

  /** Middleware for the generic write routes of the chart named in the path. */
  genericWrite(chartOf: (ctx: Context) => string): Middleware {
    const guard: Middleware = (ctx, next) => {
      this.admitGenericWrite(ctx, chartOf(ctx));
      return next();
    };
    return Object.assign(guard, { [GUARDED]: true });
  }

  private identify(ctx: Context, need: Need): Principal {
    const policy = this.current;
    const header = ctx.get('authorization');
    if (header === '') return policy.anonymous;
    const token = bearerToken(header);
    const principal = token === undefined ? undefined : policy.identify(token);
    // Without authentication a known token adds its scopes to what anyone here may do, and any other Authorization
    // header (a client set up for another server, a proxy's Basic credentials) is no reason to refuse.
    if (!policy.authenticating && need.scope !== 'results') {
      return principal ? { ...principal, grants: [...principal.grants, ...policy.anonymous.grants] } : policy.anonymous;
    }
    if (principal) return principal;
    if (token === undefined) throw this.unauthorized(ctx, 'the Authorization header must be "Bearer TOKEN"', 'invalid_request');
    this.note(ctx, 'unknown token', {});
    throw this.unauthorized(ctx, 'the bearer token is not known here', 'invalid_token');
  }

  private unauthorized(ctx: Context, message: string, error?: string): Unauthorized {
    return new Unauthorized(message, `Bearer realm="${this.options.realm}"${error ? `, error="${error}"` : ''}`);
  }

  /** Refusals of presented tokens are worth a look (a misconfigured client, or someone guessing), a line per interval. */
  private note(ctx: Context, what: string, fields: Record<string, unknown>): void {
    const held = this.refusals.pass(Date.now());
    if (held === undefined) return;
    this.options.log.warn({ ...fields, method: ctx.method, path: ctx.path, from: ctx.ip, refusedSinceLastLog: held }, `request refused: ${what}`);
  }
}

/** The token of an `Authorization: Bearer TOKEN` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return match?.[1];
}

/** Whether a router middleware is a guard: every route's first one must be (the route-walk test checks). */
export function isGuard(middleware: unknown): boolean {
  return typeof middleware === 'function' && (middleware as unknown as Record<symbol, unknown>)[GUARDED] === true;
}

/** The principal admit() recorded on the request. */
export function principalOf(ctx: Context): Principal {
  const principal = ctx.state['principal'] as Principal | undefined;
  if (!principal) throw new Error(`no guard admitted ${ctx.method} ${ctx.path}`);
  return principal;
}

/**
 * Who a check-in or event speaks for: `by=` (or X-Chartd-Caller), else the one caller the token is bound to.
 * A token bound to callers may not speak for others.
 */
export function speakerOf(ctx: Context, principal: Principal): string | undefined {
  const named = caller(ctx);
  if (named === undefined) return impliedCaller(principal);
  if (!maySpeakFor(principal, named)) {
    throw new Forbidden(`token ${principal.name} may speak only for the callers ${principal.callers!.join(', ')}; by=${named} is not one of them`, 'caller_not_allowed');
  }
  return named;
}

/** The token name to record in history: none for a request that presented no token. */
export function tokenName(principal: Principal): string | undefined {
  return principal.anonymous ? undefined : principal.name;
}

/** Registers routes that cannot be registered without saying what they need. */
export interface GuardedRoutes {
  get(path: string, need: NeedOf | Middleware, ...middleware: Middleware[]): void;
  put(path: string, need: NeedOf | Middleware, ...middleware: Middleware[]): void;
  post(path: string, need: NeedOf | Middleware, ...middleware: Middleware[]): void;
  delete(path: string, need: NeedOf | Middleware, ...middleware: Middleware[]): void;
  readonly guard: Guard;
}

export function guardRoutes(router: Router, guard: Guard): GuardedRoutes {
  const register = (method: 'get' | 'put' | 'post' | 'delete') => (path: string, need: NeedOf | Middleware, ...middleware: Middleware[]): void => {
    const first = isGuard(need) ? (need as Middleware) : guard.middleware(need as NeedOf);
    router[method](path, first, ...middleware);
  };
  return { get: register('get'), put: register('put'), post: register('post'), delete: register('delete'), guard };
}
