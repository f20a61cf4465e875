// Seeded hostile requests to a server of the `gates` chart (test/support/server.ts gateChart): malformed in every way a
// client can manage, yet never one that could change what is stored, so a test can check that nothing changed.

import { BODY_LIMIT } from '../../src/http/params.js';
import type { RawRequest } from './rawHttp.js';

export type Random = () => number;

/** mulberry32: a small seeded generator, so a failing run is repeated by its seed. */
export function seededRandom(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = Math.imul(state ^ (state >>> 15), 1 | state);
    mixed = (mixed + Math.imul(mixed ^ (mixed >>> 7), 61 | mixed)) ^ mixed;
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export interface Hostile {
  readonly label: string;
  readonly request: RawRequest | Buffer;
  /** No answer is owed: the client hangs up, sends a body no route may read, or bytes Node's parser may drop. */
  readonly answerOptional: boolean;
}

const pick = <T>(random: Random, items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const chance = (random: Random, p: number): boolean => random() < p;

const METHODS = ['GET', 'HEAD', 'PUT', 'POST'];
const ODD_METHODS = ['DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH',
  'REPORT', 'PURGE', 'LINK', 'UNLINK', 'QUERY', 'MKCALENDAR', 'SUBSCRIBE', 'FOO', 'get'];
// Not the watch stream (GET …/instances/ID/events), which never ends by itself.
const PATHS = ['/state', '/charts/gates/state', '/charts/gates/instances/default/state', '/charts/gates/instances',
  '/charts/gates/instances/default', '/charts/gates/instances/default/events/go', '/charts', '/charts/gates', '/healthz',
  '/charts/missing/state', '/nowhere'];
const ODD_SEGMENTS = ['%', '%E0%A4%A', '%zz', '%00', '%FF%FE', '%2e%2e', '..', '', 'a'.repeat(4000), '%C0%AF', 'caf%C3%A9', '%252e'];
const PARAMS = ['state', 'wait', 'index', 'limit', 'by', 'event', 'after', 'status'];
/** None is a duration, and none is `wait`, the default instance's state: no long-poll waits, and no PUT applies. */
const ODD_VALUES = [`${'1'.repeat(15_000)}x`, '9'.repeat(15_000), `${'1'.repeat(64)}s`, `${'1'.repeat(60)}ms`, '%', '%E0%A4%A', '%zz',
  '%00', '%0d%0a', '%FF', '', '-1', '1.5', '1e309', 'NaN', '99999999999999999999', 'a'.repeat(200), '../..', '5 m', '1h1h', '30m1h',
  '%20', '+', 'open', '%C3%BCn%C3%AFcode', 'x%3Dy%26z'];
const SAFE_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789%._-:@~!*';
/** Authorization headers no guard may trip over; `TOKEN` stands for a valid token of the server, when it has one. */
const AUTHORIZATIONS = ['Bearer', 'Bearer ', 'Basic dXNlcjpwYXNz', 'Bearer a b', `Bearer ${'x'.repeat(8000)}`, 'Bearer chartd_unknown0000000000000000000000',
  'bearer\tchartd_x', 'Bearer %00', 'Negotiate abc', 'TOKEN', 'TOKEN', 'TOKEN'];
const CONTENT_TYPES = ['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'application/json; charset=latin1',
  'application/vnd.chartd+json', 'garbage///', '', 'multipart/form-data; boundary=x'];

/** Deep JSON that is never a valid instance body: an object with an unknown field, nesting `depth` levels. */
export const deepBody = (depth: number): string => `{"hostile":${'['.repeat(depth - 1)}${']'.repeat(depth - 1)}}`;

/** `depth` levels deep and BODY_LIMIT bytes long, as many arrays as fit: the most a JSON body can ask of the parser. */
export function widestBodyAtDepth(depth: number): string {
  const head = `{"hostile":[${'['.repeat(depth - 3)}${']'.repeat(depth - 3)}`;
  const tail = ']}';
  return `${head}${',[]'.repeat(Math.floor((BODY_LIMIT - head.length - tail.length) / 3))}${tail}`;
}

const BODIES: readonly (() => Buffer)[] = [
  ...[63, 64, 65, 2200, 30_000].map((depth) => () => Buffer.from(deepBody(depth))),
  () => Buffer.from(widestBodyAtDepth(64)),
  () => Buffer.from(`{"hostile":"${'x'.repeat(BODY_LIMIT - 14)}"}`),
  () => Buffer.from(`{"hostile":"${'x'.repeat(BODY_LIMIT - 13)}"}`),
  () => Buffer.from('{"id": '),
  () => Buffer.from('{{{{'),
  () => Buffer.from('nul'),
  () => Buffer.from('null'),
  () => Buffer.from('[1,2,3]'),
  () => Buffer.from('1e999999'),
  () => Buffer.concat([Buffer.from('{"hostile":"'), Buffer.from([0xc3, 0x28, 0xff, 0xfe, 0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  () => Buffer.from(`{"${'k'.repeat(60_000)}":1}`),
  () => Buffer.from(`{${Array.from({ length: 5000 }, (_, index) => `"k${index}":${index}`).join(',')}}`),
  () => Buffer.from(`{"id":"ok","context":{},"hostile":true}`),
];

/** Garbage Node's own parser answers (400, 431, 417) or drops. */
const RAW: readonly Buffer[] = [
  'GET / HTTP/9.9\r\nHost: x\r\n\r\n',
  'GET /state?state=wait HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n',
  'GET /state?state=wait HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\nConnection: close\r\n\r\n',
  'get /state?state=wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET /state?state=wait HTTP/1.1\r\nConnection: close\r\n\r\n',
  'GET /state?state=wait HTTP/1.1\r\nHost: x\r\nExpect: nonsense\r\nConnection: close\r\n\r\n',
  'OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'GET http://elsewhere/state?state=wait HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'POST /charts/gates/instances HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Type: application/json\r\nConnection: close\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
  'GET /caf\xc3\xa9 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
  'PUT /charts/gates/state?state=open HTTP/1.1\r\nHost: x\r\nX-Chartd-Caller: \xff\xfe\r\nConnection: close\r\n\r\n',
  '\x16\x03\x01\x00\x05hello\r\n\r\n',
].map((text) => Buffer.from(text, 'latin1'));

/** One hostile request; `token` is a valid token of the server, which some requests then carry. */
export function hostileRequest(random: Random, token?: string): Hostile {
  if (chance(random, 0.05)) {
    const raw = pick(random, RAW);
    return { label: `raw ${JSON.stringify(raw.toString('latin1').slice(0, 60))}`, request: raw, answerOptional: true };
  }
  const method = pick(random, chance(random, 0.7) ? METHODS : ODD_METHODS);
  let path = pick(random, PATHS);
  // Not the event path: emptying its last segment would leave the watch stream's path and a trailing slash.
  if (!path.includes('/events/') && chance(random, 0.2)) {
    const segments = path.split('/');
    segments[1 + Math.floor(random() * (segments.length - 1))] = pick(random, ODD_SEGMENTS);
    path = segments.join('/');
  }
  const target = `${path}${query(random)}`;
  const headers: [string, string][] = [];
  if (chance(random, 0.1)) headers.push(['X-Chartd-Caller', pick(random, ['a'.repeat(300), 'two words', '%00', 'ok-caller'])]);
  if (chance(random, 0.03)) headers.push(['X-Long', 'a'.repeat(20_000)]);
  if (chance(random, 0.2)) {
    const authorization = pick(random, AUTHORIZATIONS);
    if (authorization !== 'TOKEN') headers.push(['Authorization', authorization]);
    else if (token) headers.push(['Authorization', `Bearer ${token}`]);
  }
  if (chance(random, 0.05)) for (let index = 0; index < 200; index++) headers.push([`X-Junk-${index}`, String(index)]);
  // Every instance-creating request (the router takes a trailing slash too) carries a body it refuses: none would create one.
  const creates = method === 'POST' && /^\/charts\/gates\/instances\/?$/.test(path);
  if (!creates && chance(random, 0.5)) return { label: `${method} ${target.slice(0, 120)}`, request: { method, target, headers }, answerOptional: false };
  const body = pick(random, BODIES)();
  const type = pick(random, [...CONTENT_TYPES, undefined]);
  if (type !== undefined) headers.push(['Content-Type', type]);
  const framing = pick(random, ['length', 'length', 'chunked', 'hang-up', 'chunked-hang-up'] as const);
  const chunked = framing.startsWith('chunked');
  if (chunked) headers.push(['Transfer-Encoding', 'chunked']);
  const sent = chunked ? chunk(random, body) : body;
  const hangUp = framing.endsWith('hang-up') ? { after: Math.floor(random() * sent.length), how: pick(random, ['end', 'reset'] as const) } : undefined;
  const label = `${method} ${target.slice(0, 120)} (${body.length}-byte body, ${framing}${hangUp ? ` at ${hangUp.after} by ${hangUp.how}` : ''})`;
  // A route that answers without reading the body has the connection closed on the unread rest, which may reset it.
  return { label, request: { method, target, headers, body: sent, ...(hangUp ? { hangUp } : {}) }, answerOptional: true };
}

function query(random: Random): string {
  const pairs: string[] = [];
  for (let count = Math.floor(random() * 5); count > 0; count--) {
    const name = chance(random, 0.9) ? pick(random, PARAMS) : randomText(random);
    // Random text could spell a duration or `wait`: only odd values go to wait= and state=.
    const value = name === 'wait' || name === 'state' || chance(random, 0.6) ? pick(random, ODD_VALUES) : randomText(random);
    pairs.push(`${name}=${value}`);
  }
  if (chance(random, 0.1)) pairs.push(...Array.from({ length: 300 + Math.floor(random() * 1200) }, () => `${pick(random, PARAMS)}=open`));
  return pairs.length ? `?${pairs.join('&')}` : '';
}

function randomText(random: Random): string {
  return Array.from({ length: 1 + Math.floor(random() * 40) }, () => pick(random, [...SAFE_CHARS])).join('');
}

function chunk(random: Random, body: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let at = 0; at < body.length; ) {
    const size = Math.min(body.length - at, 1 + Math.floor(random() * 8192));
    parts.push(Buffer.from(`${size.toString(16)}\r\n`), body.subarray(at, at + size), Buffer.from('\r\n'));
    at += size;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}
