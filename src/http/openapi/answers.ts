// The error answers every route may give, as src/http/errors.ts writes them: `{error: {code, message}}` with a status.

import { BODY_DEPTH_LIMIT, BODY_LIMIT } from '../params.js';
import { empty, problem, type Json } from './build.js';

export const RESPONSES: Record<string, Json> = {
  NotModified: empty('If-None-Match names the current ETag: the client holds the answer already; no body', ['ETag']),
  BadRequest: problem(`a malformed request, nothing changed: a parameter missing (missing_parameter), repeated, empty or out of range (bad_request), a name that is not one (invalid_name), a body that is not JSON (invalid_json) or nests deeper than ${BODY_DEPTH_LIMIT} levels (too_deep), a URL that does not decode; the message says what and how to fix it`),
  Unauthorized: problem('no token where one is needed, a token chartd does not know, or an Authorization header that is not "Bearer TOKEN"; nothing was read or changed', ['WWW-Authenticate']),
  UnknownToken: problem('with --auth, a token chartd does not know (send none, or a known one); nothing was read or changed', ['WWW-Authenticate']),
  Forbidden: problem('the token lacks the scope the route needs (forbidden: the message names it and the scopes the token has), names a caller it may not speak for (caller_not_allowed), or the chart is driven by a built-in service (owned_by_service: the message names its own route); refused before the body is read, nothing changed'),
  NotFound: problem('no such chart, instance, request or order (not_found), or /state with no default chart (the message lists the charts)'),
  Conflict: problem('the request contradicts what is stored (conflict); nothing changed'),
  TooLarge: problem(`the body is over ${BODY_LIMIT} bytes (payload_too_large), declared or sent; refused before it is read`),
  NotJson: problem('a body that is not sent as JSON (unsupported_media_type): send Content-Type: application/json'),
  Unprocessable: problem('understood but not runnable here (unprocessable); the message says why and how to fix it'),
  Unavailable: problem('the change was not applied: the data directory cannot make it durable now (store_unavailable, Retry-After: 10; the server log says why), or chartd is stopping (shutting_down, Retry-After: 2)', ['Retry-After']),
};
