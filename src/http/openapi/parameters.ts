// The parameters and headers several routes share, described once: names, the state asked about, callers, long-polls, pages.

import { REQUEST_STATES } from '../../backup/controller/controller.js';
import { DEFAULT_PAGE, MAX_PAGE, MAX_WAIT_MS, NAME_PATTERN } from '../params.js';
import { integer, string, type Json } from './build.js';

const NAME = string(undefined, { pattern: NAME_PATTERN.source });
const DURATION = string(undefined, { maxLength: 64, examples: ['60s', '10m'] });
const REVISION = integer(undefined, { minimum: 0 });

const inPath = (name: string, description: string, body: Json = NAME): Json => ({ name, in: 'path', required: true, description, schema: body });
const inQuery = (name: string, description: string, body: Json, required = false): Json => ({ name, in: 'query', ...(required ? { required } : {}), description, schema: body });
const inHeader = (name: string, description: string, body: Json = string()): Json => ({ name, in: 'header', description, schema: body });

export const PARAMETERS: Record<string, Json> = {
  chart: inPath('chart', "the chart's name (its `chart:` key, or its file's name for a StateService chart)"),
  instance: inPath('id', 'the instance id; `default` is the instance every chart has'),
  event: inPath('event', 'the event to send, as the current state names it under `on:`'),
  state: inQuery('state', "the state asked about, percent-encoded (UTF-8): any printable text up to 255 bytes; only ever compared with the chart's names", string(undefined, { maxLength: 255 }), true),
  stateFilter: inQuery('state', 'only instances in this state; a state no version of the chart has is refused with 400, naming the states', string(undefined, { maxLength: 255 })),
  status: inQuery('status', 'only running instances (active), finished ones (done) or cancelled ones', string(undefined, { enum: ['active', 'done', 'cancelled'] })),
  order: inQuery('order', 'id: in id order (the default); changed: the last change first', string(undefined, { enum: ['id', 'changed'] })),
  by: inQuery('by', 'who checks in or sends the event: a distinct gate counts each caller once; a token bound to callers may name only those', NAME),
  callerHeader: inHeader('X-Chartd-Caller', 'the caller, when `by=` is not given', NAME),
  eventQuery: inQuery('event', 'send this event (accepted only while `state` is current) instead of counting a check-in', NAME),
  wait: inQuery('wait', `long-poll: answer when the awaited change happens or this long has passed, at most ${MAX_WAIT_MS / 60_000} minutes`, DURATION),
  index: inQuery('index', 'with `wait`: answer once the revision moves past this one (a blocking query); refused without `wait`', REVISION),
  limit: inQuery('limit', `how many items a page holds (default ${DEFAULT_PAGE})`, integer(undefined, { minimum: 1, maximum: MAX_PAGE })),
  after: inQuery('after', "go on after this item: the id of the previous page's last one (with order=changed, its next link's TIME.ID)", string()),
  ifNoneMatch: inHeader('If-None-Match', 'the ETag of the answer the client holds: 304 without a body while it is still the answer'),
  lastEventId: inHeader('Last-Event-ID', 'resume after this revision: the transitions after it that history still holds are replayed first', string(undefined, { pattern: '^\\d{1,15}$' })),
  since: inQuery('since', 'as Last-Event-ID, for clients that cannot set headers', string(undefined, { pattern: '^\\d{1,15}$' })),
  requestId: inPath('id', "the backup request's id (a UUID)"),
  requestState: inQuery('state', 'only requests in this state', string(undefined, { enum: [...REQUEST_STATES] })),
  jobId: inQuery('jobId', 'only those of this backup job', NAME),
  idempotencyKey: inHeader('Idempotency-Key', 'a retry with the same key returns the same request, never a second one', string(undefined, { pattern: '^[\\x21-\\x7e]{1,255}$' })),
  orderId: inPath('id', "the order's request id"),
};

const header = (description: string, body: Json = string()): Json => ({ description, schema: body });

/** Keyed by the header's name, which answers list them under. */
export const HEADERS: Record<string, Json> = {
  'ETag': header('names what the answer shows; send it back in If-None-Match'),
  'Retry-After': header('seconds to wait before asking again', integer()),
  'WWW-Authenticate': header('Bearer realm="chartd" (the zone: its realm), with error="invalid_token" for an unknown token and error="invalid_request" for a header that is not Bearer TOKEN'),
  'Location': header('the path of what was created or received'),
  'X-Request-Id': header("the backup request's id"),
  'X-Chartd-Revision': header("the instance's revision", REVISION),
  'X-Chartd-Version': header("the chart's version: the content hash of its file"),
  'X-Chartd-State': header("the instance's current state, percent-encoded as in a URL"),
};
