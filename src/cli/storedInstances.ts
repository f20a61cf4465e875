// The active instances of a chart as stored: asked of a running server over HTTP, or read from a data directory.

import type { Snapshot } from '../engine/snapshot.js';
import { INSTANCES } from '../runtime/runtime.js';
import { readDocuments } from '../store/readOnly.js';
import { serverClient, type ServerValues } from './serverCall.js';

export interface StoredInstance {
  readonly id: string;
  readonly state: string;
  readonly version: string;
}

/** The largest page GET /charts/:chart/instances gives. */
const PAGE = 10_000;

/** Every active instance of `chart` the server --server names holds, a page at a time; none when it serves no such chart. */
export async function instancesFromServer(server: ServerValues & { readonly server: string }, chart: string): Promise<StoredInstance[]> {
  const client = await serverClient(server);
  const found: StoredInstance[] = [];
  try {
    for (let path: string | null = `/charts/${encodeURIComponent(chart)}/instances?status=active&limit=${PAGE}`; path !== null;) {
      const answer = await client.call('GET', path);
      if (answer.status === 404) return [];
      if (answer.status === 401 || answer.status === 403) {
        throw new Error(`${client.root} answered ${answer.status}: reading instances needs a token with the read scope (CHARTD_TOKEN or --token-file FILE)`);
      }
      if (answer.status !== 200) throw new Error(`${client.root}${path} answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      const page = JSON.parse(answer.text) as { instances: StoredInstance[]; next: string | null };
      found.push(...page.instances.map(({ id, state, version }) => ({ id, state, version })));
      path = page.next;
    }
    return found;
  } finally {
    await client.close();
  }
}

/** The same, read from a data directory without its lock: a server may be running on it (see store/readOnly.ts). */
export async function instancesFromData(dir: string, chart: string): Promise<StoredInstance[]> {
  const snapshots = await readDocuments<Snapshot>(dir, INSTANCES, `${chart}/`);
  return snapshots.filter((snapshot) => snapshot.status === 'active').map(({ id, state, version }) => ({ id, state, version }));
}
