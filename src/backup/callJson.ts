// One JSON exchange over HTTP, its failures sorted into "retry later" (plain Error) and "will not change" (Refused).

import { TaskCancelledError } from 'cockatiel';
import { describeFetchFailure, type Fetch, type FetchAnswer } from '../net/httpClient.js';
import { Refused } from './errors.js';

export interface JsonAnswer {
  readonly status: number;
  readonly body: unknown;
}

/**
 * One HTTP exchange with JSON bodies. Resolves for 2xx and for the statuses in `accept`; throws Refused
 * for other 4xx (except 408/429) and a plain Error for everything else (network, 5xx): those are retried.
 */
export async function callJson(fetch: Fetch, url: string, init: {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: unknown;
  signal: AbortSignal;
  accept?: readonly number[];
  service: string;
}): Promise<JsonAnswer> {
  let response: FetchAnswer;
  try {
    response = await fetch(url, {
      method: init.method,
      headers: { accept: 'application/json', ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
      signal: init.signal,
    });
  } catch (error) {
    if (init.signal.aborted) throw init.signal.reason instanceof Error ? init.signal.reason : new TaskCancelledError();
    throw new Error(`${init.service} cannot be reached at ${url}: ${describeFetchFailure(error)}`);
  }
  const text = await response.text();
  let body: unknown = text;
  try {
    body = text === '' ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: keep the text for the message.
  }
  if (response.ok || init.accept?.includes(response.status)) return { status: response.status, body };
  const detail = describeBody(body);
  const message = `${init.service} answered ${init.method} ${new URL(url).pathname} with ${response.status}${detail ? `: ${detail}` : ''}`;
  if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
    throw new Refused(message, response.status, body);
  }
  throw new Error(message);
}

function describeBody(body: unknown): string {
  const nested = (body as { error?: { message?: unknown } } | undefined)?.error?.message;
  if (typeof nested === 'string') return nested.slice(0, 300);
  if (typeof body === 'string') return body.slice(0, 300);
  return '';
}
