// Scopes, patterns, token matching and the auth file, with every problem of a file reported at once.

import { describe, expect, it } from 'vitest';
import { parseAuthConfig, policyOf } from '../../src/access/authFile.js';
import { exposureProblem } from '../../src/access/exposure.js';
import { isLoopback } from '../../src/net/loopback.js';
import { allows, AccessPolicy, digestOf, impliedCaller, matchesPattern, maySpeakFor, type Principal } from '../../src/access/policy.js';
import { hashOf, newToken, parseHash } from '../../src/access/tokens.js';

const principal = (grants: Principal['grants'], callers?: string[]): Principal => ({ name: 'p', grants, ...(callers ? { callers } : {}) });

describe('patterns', () => {
  it('match * as any run of characters, and nothing else specially', () => {
    const cases: [string, string, boolean][] = [
      ['traffic-light', 'traffic-light', true], ['traffic-light', 'traffic-lights', false],
      ['*', 'anything', true], ['rolling-*', 'rolling-upgrade', true], ['rolling-*', 'rolling-', true], ['rolling-*', 'rollin', false],
      ['*-db', 'sales-db', true], ['*-db', 'sales-dbx', false], ['a*b*c', 'abc', true], ['a*b*c', 'aXbYc', true], ['a*b*c', 'acb', false],
      ['a*a', 'a', false], ['web.*', 'web1', false], ['web.*', 'web.1', true],
    ];
    for (const [pattern, name, expected] of cases) expect(matchesPattern(pattern, name), `${pattern} ~ ${name}`).toBe(expected);
  });
});

describe('scopes', () => {
  it('read covers reads; write covers the charts it names; admin covers both; results only zone results', () => {
    const reader = principal([{ scope: 'read' }]);
    const writer = principal([{ scope: 'write', charts: ['traffic-*'] }]);
    const admin = principal([{ scope: 'admin' }]);
    const zone = principal([{ scope: 'results' }]);
    const needs = [{ scope: 'read' }, { scope: 'write', chart: 'traffic-light' }, { scope: 'write', chart: 'rolling-upgrade' }, { scope: 'admin' }, { scope: 'results' }, { scope: 'open' }] as const;
    const table = [reader, writer, admin, zone].map((who) => needs.map((need) => allows(who, need)));
    expect(table).toEqual([
      [true, false, false, false, false, true],
      [false, true, false, false, false, true],
      [true, true, true, true, false, true],
      [false, false, false, false, true, true],
    ]);
  });

  it('binds a token to the callers it may speak for, and names the one it speaks for when there is one', () => {
    const fleet = principal([{ scope: 'write', charts: ['*'] }], ['web*']);
    expect(maySpeakFor(fleet, 'web1')).toBe(true);
    expect(maySpeakFor(fleet, 'db1')).toBe(false);
    expect(impliedCaller(fleet)).toBeUndefined();
    expect(impliedCaller(principal([], ['web1']))).toBe('web1');
    expect(maySpeakFor(principal([]), 'anyone')).toBe(true);
  });
});

describe('tokens', () => {
  it('are 256 random bits, kept as a sha256 hash that identifies only them', () => {
    const [one, two] = [newToken(), newToken()];
    expect(one).toMatch(/^chartd_[A-Za-z0-9_-]{43}$/);
    expect(one).not.toBe(two);
    expect(parseHash(hashOf(one))).toEqual(digestOf(one));
    const policy = AccessPolicy.withTokens([{ digest: parseHash(hashOf(one))!, principal: principal([{ scope: 'read' }]) }], 'token');
    expect(policy.identify(one)?.name).toBe('p');
    for (const other of [two, '', one.slice(0, -1), `${one}x`, hashOf(one)]) expect(policy.identify(other), other).toBeUndefined();
  });
});

describe('the auth file', () => {
  const hash = hashOf(newToken());
  it('reads tokens with their scopes and callers, and whether reads need a token', () => {
    const config = parseAuthConfig(`reads: open
tokens:
  ops: { hash: '${hash}', scopes: [admin] }
  fleet:
    hash: '${hashOf('another-token-of-sixteen')}'
    scopes: [read, { write: [traffic-light, 'rolling-*'] }]
    callers: ['web*']
`, 'auth.yaml');
    expect(config.reads).toBe('open');
    expect(config.tokens.map((entry) => entry.principal)).toEqual([
      { name: 'ops', grants: [{ scope: 'admin' }] },
      { name: 'fleet', grants: [{ scope: 'read' }, { scope: 'write', charts: ['traffic-light', 'rolling-*'] }], callers: ['web*'] },
    ]);
    expect(policyOf(config).authenticating).toBe(true);
    expect(parseAuthConfig(`tokens: { ops: { hash: '${hash}', scopes: [read] } }`, 'a.yaml').reads).toBe('token');
  });

  it('reports every problem at once, each with its line, and never accepts a token itself', () => {
    let message = '';
    try {
      parseAuthConfig(`reads: sometimes
tokens:
  ops:
    hash: '${hash}'
    scopes: [admn]
  fleet:
    token: chartd_secret_value_in_the_file
    scopes: [{ write: ['bad/chart'] }]
  twin:
    hash: '${hash}'
    scopes: [read]
    callers: []
  'bad name': { hash: 'md5:abc', scopes: [read], extra: 1 }
`, 'auth.yaml');
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split('\n')).toEqual([
      "auth.yaml:1: reads: reads is 'token' (every read needs a token with the read scope; the default) or 'open' (anyone who can reach chartd may read)",
      "auth.yaml:5: tokens.ops.scopes[0]: unknown scope 'admn' (did you mean 'admin'?); scopes is a list of read, write, admin, results, or write: [CHART-PATTERN, …] for some charts only",
      "auth.yaml:6: tokens.fleet: missing hash: (the line `chartd token new` printed, e.g. hash: 'sha256:…')",
      'auth.yaml:7: tokens.fleet.token: the file keeps only hashes, never a token itself: `chartd token hash` reads a token on standard input and prints the hash to put here',
      "auth.yaml:8: tokens.fleet.scopes[0].write[0]: 'bad/chart': chart patterns are chart names with * for any run of characters, e.g. rolling-*",
      'auth.yaml:10: tokens.twin.hash: the same hash as token ops; every token needs its own, or history could not tell them apart',
      'auth.yaml:12: tokens.twin.callers: a non-empty list: caller patterns are names (letters, digits, . _ - : @) with * for any run of characters, e.g. web-*',
      "auth.yaml:13: tokens.bad name: token name 'bad name': use 1-64 letters, digits, . _ - : @, starting with a letter or digit (it is recorded in history)",
      "auth.yaml:13: tokens.bad name.extra: unknown key 'extra'; a token takes hash, scopes and callers",
      'auth.yaml:13: tokens.bad name.hash: a hash is sha256: followed by 64 hex digits, as `chartd token new` or `chartd token hash` print it',
    ]);
    expect(message).not.toContain('chartd_secret_value_in_the_file');
  });
});

describe('exposure', () => {
  it('knows loopback addresses however they are written', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '192.168.1.5', 'example.internal', '::ffff:10.0.0.1', '128.0.0.1']) expect(isLoopback(host), host).toBe(false);
  });

  it('refuses to serve beyond loopback without tokens, unless told to take the risk', () => {
    expect(exposureProblem({ host: '0.0.0.0', authenticating: false, insecure: false })).toMatch(/^refusing to listen on 0\.0\.0\.0 without authentication.*--auth FILE.*--insecure-no-auth/);
    expect(exposureProblem({ host: '0.0.0.0', authenticating: true, insecure: false })).toBeUndefined();
    expect(exposureProblem({ host: '0.0.0.0', authenticating: false, insecure: true })).toBeUndefined();
    expect(exposureProblem({ host: '127.0.0.1', authenticating: false, insecure: false })).toBeUndefined();
  });
});
