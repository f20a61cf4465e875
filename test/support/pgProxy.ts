// A loopback TCP proxy in front of PostgreSQL that can cut a connection at a COMMIT: before it reaches the server, or after it landed.

import { connect, createServer, type Socket } from 'node:net';

/** A simple-protocol COMMIT as node-postgres sends it ('Q'), and the server's CommandComplete answer to it ('C'). */
const COMMIT_QUERY = Buffer.from('Q\0\0\0\x0bCOMMIT\0', 'latin1');
const COMMIT_DONE = Buffer.from('C\0\0\0\x0bCOMMIT\0', 'latin1');

export type Cut = 'before-commit' | 'after-commit';

export interface PgProxy {
  readonly port: number;
  /** The next COMMIT on any connection: cut that connection before PostgreSQL sees it, or once it landed but before its answer. */
  cutNextCommit(when: Cut): Promise<void>;
  /** Drops every byte either way from now on, leaving connections open: the client's queries hang, as behind a dead network. */
  partition(): void;
  close(): Promise<void>;
}

export async function startPgProxy(host: string, port: number): Promise<PgProxy> {
  const sockets = new Set<Socket>();
  let armed: { when: Cut; done: () => void } | undefined;
  let partitioned = false;
  const cutIf = (when: Cut, chunk: Buffer, pattern: Buffer, pair: Socket[]): boolean => {
    if (armed?.when !== when || !chunk.includes(pattern)) return false;
    const { done } = armed;
    armed = undefined;
    for (const socket of pair) socket.destroy();
    done();
    return true;
  };
  const server = createServer((client) => {
    const upstream = connect(port, host);
    const pair = [client, upstream];
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // Either side failing ends the proxied connection, as a broken network would.
      socket.on('error', () => pair.forEach((each) => each.destroy()));
    }
    client.on('data', (chunk: Buffer) => {
      if (partitioned) return;
      if (!cutIf('before-commit', chunk, COMMIT_QUERY, pair)) upstream.write(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (partitioned) return;
      if (!cutIf('after-commit', chunk, COMMIT_DONE, pair)) client.write(chunk);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    cutNextCommit: (when) => new Promise((resolve) => {
      armed = { when, done: resolve };
    }),
    partition: () => void (partitioned = true),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
