// chartd's outgoing HTTP(S) client: one undici Agent that trusts the operator's CA and presents its client certificate.

import { Agent, fetch as undiciFetch } from 'undici';
import { loadOutgoingTls, type OutgoingTls } from './tlsFiles.js';

export interface FetchInit {
  readonly method: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
  readonly signal: AbortSignal;
}

export interface FetchAnswer {
  readonly ok: boolean;
  readonly status: number;
  text(): Promise<string>;
}

/** The part of fetch chartd's calls use; Node's global fetch cannot take a CA per call, this one can. */
export type Fetch = (url: string, init: FetchInit) => Promise<FetchAnswer>;

export interface HttpClient {
  readonly fetch: Fetch;
  /** Waits for calls in flight, then closes the kept-alive connections. */
  close(): Promise<void>;
}

// Node's codes for a peer certificate that does not chain to a trusted CA or does not name the host.
const UNTRUSTED = /^(SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_(GET_ISSUER_CERT(_LOCALLY)?|VERIFY_LEAF_SIGNATURE)|CERT_\w+|ERR_TLS_CERT_ALTNAME_INVALID)$/;

/** Why a call got no answer, from fetch's bare "fetch failed" and its cause: the code, the reason, and for TLS the fix. */
export function describeFetchFailure(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  const code = typeof cause?.code === 'string' ? cause.code : undefined;
  const message = typeof cause?.message === 'string' ? cause.message : (error as Error).message;
  if (!code) return message;
  const described = message.includes(code) ? code : `${code} (${message})`;
  return UNTRUSTED.test(code) ? `${described}; the peer's TLS certificate is not trusted: give --ca-file the CA that signed it` : described;
}

/** Reads and checks the files first, so a wrong --ca-file or client key stops start-up instead of the first call. */
export async function createHttpClient(files: OutgoingTls = {}): Promise<HttpClient> {
  const tls = await loadOutgoingTls(files);
  const agent = new Agent({ connect: { ...tls } });
  return {
    fetch: (url, init) => undiciFetch(url, { ...init, dispatcher: agent }),
    close: () => agent.close(),
  };
}
