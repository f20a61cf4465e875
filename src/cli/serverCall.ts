// Calls a running chartd from the command line (diff, apply, charts): the token, the CA, one request, a clear failure.

import { resolve } from 'node:path';
import { readSecret } from '../backup/secret.js';
import { createHttpClient, describeFetchFailure } from '../net/httpClient.js';
import type { OutgoingTls } from '../net/tlsFiles.js';
import type { ChartdCommand } from './command.js';
import { httpUrl } from './usage.js';

/** Where the server is and how to reach it: --server URL, --token-file FILE (else CHARTD_TOKEN), --ca-file FILE. */
export interface ServerValues {
  readonly server?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
}

/** Adds --server URL (`what` the command does with it), --token-file FILE (a token with `scope`) and --ca-file FILE. */
export function serverOptions(what: string, scope: 'read' | 'admin', required: boolean): (command: ChartdCommand) => void {
  return (command) => {
    command
      .accept('--server <URL>', what, { read: httpUrl('--server', "the chartd server's address"), ...(required ? { required } : {}) })
      .accept('--token-file <FILE>', `a file holding a token with the ${scope} scope for --server (else CHARTD_TOKEN)`)
      .accept('--ca-file <FILE>', "the CA that signed --server's certificate (else the system's)");
  };
}

export interface ServerAnswer {
  readonly status: number;
  readonly text: string;
}

/** The bearer token: --token-file FILE, else CHARTD_TOKEN, else none. */
async function tokenFor(file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) return (await readSecret({ file: resolve(file) }, '--token-file')).reveal();
  // An empty variable is taken as none, as shells leave it after `export CHARTD_TOKEN=`.
  if (process.env['CHARTD_TOKEN']) return (await readSecret({ env: 'CHARTD_TOKEN' }, 'CHARTD_TOKEN')).reveal();
  return undefined;
}

function tlsFor(caFile: string | undefined): OutgoingTls {
  return caFile !== undefined ? { ca: resolve(caFile) } : {};
}

/** Makes calls to the server --server names until closed; a call that gets no answer throws naming the server and why. */
export async function serverClient(values: ServerValues & { readonly server: string }) {
  const token = await tokenFor(values.tokenFile);
  const client = await createHttpClient(tlsFor(values.caFile));
  const base = values.server;
  const root = base.replace(/\/+$/, '');
  return {
    root,
    async call(method: string, path: string, body?: { readonly type: string; readonly text: string }): Promise<ServerAnswer> {
      const headers: Record<string, string> = {
        accept: 'application/json', ...(token !== undefined && { authorization: `Bearer ${token}` }), ...(body && { 'content-type': body.type }),
      };
      const answer = await client.fetch(root + path, { method, headers, ...(body ? { body: body.text } : {}), signal: AbortSignal.timeout(60_000) }).catch((error: unknown) => {
        throw new Error(`cannot reach ${root}: ${describeFetchFailure(error)}`);
      });
      return { status: answer.status, text: await answer.text() };
    },
    close: () => client.close(),
  };
}

/** The server's own words for a refusal: its JSON error's message, else the start of the body. */
export function refusalOf(answer: ServerAnswer): string {
  try {
    const parsed = JSON.parse(answer.text) as { error?: { message?: string } };
    if (parsed.error?.message) return parsed.error.message;
  } catch {
    // not JSON: shown as it is
  }
  return answer.text.slice(0, 200);
}
