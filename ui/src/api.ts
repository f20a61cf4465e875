// Calls chartd's routes with the tab's token; every refusal becomes an ApiError carrying the server's own message.

import { savedToken } from './session';

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

export function authHeaders(token = savedToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

export async function request(path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> {
  const { token, ...rest } = init;
  const response = await fetch(path, { ...rest, cache: 'no-store', headers: { ...authHeaders(token === undefined ? savedToken() : token), ...(rest.headers as Record<string, string> | undefined) } });
  if (response.ok) return response;
  throw await errorOf(response);
}

export async function getJson<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request(path, signal ? { signal } : {})).json() as Promise<T>;
}

export async function getText(path: string, signal?: AbortSignal): Promise<string> {
  return (await request(path, signal ? { signal } : {})).text();
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const { error } = JSON.parse(text) as { error: { code: string; message: string } };
    return new ApiError(response.status, error.code, error.message);
  } catch {
    return new ApiError(response.status, String(response.status), text.trim() || response.statusText);
  }
}

/** `path` with `query`'s non-empty values. */
export function withQuery(path: string, query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** `/charts/a b/instances` with each name percent-encoded. */
export function pathOf(...parts: string[]): string {
  return parts.map((part, index) => (index % 2 === 0 ? part : encodeURIComponent(part))).join('/');
}
