// A backup zone that takes every order at once, and a controller config sending job `nightly` to it: requests reach Sent.

import { createServer, type Server } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface TakingZone {
  readonly server: Server;
  /** Every order received, in order. */
  readonly orders: { readonly requestId: string }[];
  /** While true, orders are taken but not answered until released (the dispatch step waits). */
  holding: boolean;
  /** Answers the orders held so far. */
  release(): void;
  /** Writes DIR/jobs.yaml and DIR/backup.yaml (the zone's and the results token in the named environment variables); returns the config's path. */
  writeConfig(dir: string, env: { readonly zoneToken: string; readonly resultsToken: string }): Promise<string>;
  close(): Promise<void>;
}

export async function startTakingZone(): Promise<TakingZone> {
  const orders: { requestId: string }[] = [];
  const held: (() => void)[] = [];
  let zone: TakingZone | undefined;
  const server = createServer((req, res) => {
    // The controller's link asks GET /healthz whether the zone answers.
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const order = JSON.parse(body) as { requestId: string };
      orders.push(order);
      const answer = (): void => void res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ requestId: order.requestId, zone: 'east', created: true }));
      if (zone?.holding) held.push(answer);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  zone = {
    server, orders, holding: false,
    release: () => {
      for (const answer of held.splice(0)) answer();
    },
    async writeConfig(dir, env) {
      await writeFile(join(dir, 'jobs.yaml'), `jobs:
  - { id: nightly, status: approved, inForce: { from: '2026-01-01' }, zone: east, client: acme, eoyMonth: 6, keyName: k, source: { host: db.internal, database: sales } }
`);
      const file = join(dir, 'backup.yaml');
      await writeFile(file, `jobs: { file: jobs.yaml }
zones:
  east: { url: 'http://127.0.0.1:${port}', token: { env: ${env.zoneToken} } }
results_token: { env: ${env.resultsToken} }
`);
      return file;
    },
    close: () => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
  return zone;
}
