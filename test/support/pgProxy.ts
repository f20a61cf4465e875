// A loopback TCP proxy in front of PostgreSQL that can cut a connection at a COMMIT (before it reaches the server, or after it
// landed), hold back the notifications the server sends, or drop everything.

import { connect, createServer, type Socket } from 'node:net';

/** A simple-protocol COMMIT as node-postgres sends it ('Q'), and the server's CommandComplete answer to it ('C'). */
const COMMIT_QUERY = Buffer.from('Q\0\0\0\x0bCOMMIT\0', 'latin1');
const COMMIT_DONE = Buffer.from('C\0\0\0\x0bCOMMIT\0', 'latin1');
/** A NotificationResponse, what LISTEN delivers. */
const NOTIFICATION = 'A'.charCodeAt(0);
/** The codes of an SSLRequest and a GSSENCRequest, which PostgreSQL answers with one unframed byte. */
const ENCRYPTION_REQUESTS = new Set([80877103, 80877104]);

export type Cut = 'before-commit' | 'after-commit';

export interface PgProxy {
  readonly port: number;
  /** The next COMMIT on any connection: cut that connection before PostgreSQL sees it, or once it landed but before its answer. */
  cutNextCommit(when: Cut): Promise<void>;
  /** Drops every byte either way from now on, leaving connections open: the client's queries hang, as behind a dead network. */
  partition(): void;
  /** Whether to drop the notifications PostgreSQL sends from now on, answering every query as before: a LISTEN gone deaf. */
  dropNotifications(drop: boolean): void;
  close(): Promise<void>;
}

export async function startPgProxy(host: string, port: number): Promise<PgProxy> {
  const sockets = new Set<Socket>();
  let armed: { when: Cut; done: () => void } | undefined;
  let partitioned = false;
  let deaf = false;
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
    const fromServer = new ServerMessages();
    for (const socket of pair) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      // Either side failing ends the proxied connection, as a broken network would.
      socket.on('error', () => pair.forEach((each) => each.destroy()));
    }
    client.on('data', (chunk: Buffer) => {
      if (partitioned) return;
      fromServer.sent(chunk);
      if (!cutIf('before-commit', chunk, COMMIT_QUERY, pair)) upstream.write(chunk);
    });
    upstream.on('data', (received: Buffer) => {
      if (partitioned) return;
      const chunk = fromServer.take(received, (type) => !(deaf && type === NOTIFICATION));
      if (chunk.length && !cutIf('after-commit', chunk, COMMIT_DONE, pair)) client.write(chunk);
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
    dropNotifications: (drop) => void (deaf = drop),
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/**
 * What PostgreSQL sends on one connection, cut into whole messages (a type byte, then an int32 length counting itself)
 * however TCP splits or joins them, so that some can be left out. Only the answer to an encryption request is
 * unframed; a session that goes encrypted after it is relayed as it comes.
 */
class ServerMessages {
  private readonly pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes needed before the first pending message is whole (a large one arrives in many chunks, joined once). */
  private awaited = 5;
  private firstSent = true;
  private unframedAnswer = false;
  private encrypted = false;

  /** What the client sent: its first message may ask for encryption. */
  sent(chunk: Buffer): void {
    if (!this.firstSent) return;
    this.firstSent = false;
    this.unframedAnswer = chunk.length >= 8 && chunk.readInt32BE(0) === 8 && ENCRYPTION_REQUESTS.has(chunk.readInt32BE(4));
  }

  /** The whole messages `received` completes, those `keep` refuses left out; a message's start waits for its end. */
  take(received: Buffer, keep: (type: number) => boolean): Buffer {
    if (this.encrypted) return received;
    const out: Buffer[] = [];
    if (this.unframedAnswer && received.length) {
      this.unframedAnswer = false;
      // 'S' or 'G': TLS or GSSAPI from here on, which only the client can read.
      this.encrypted = received[0] !== 'N'.charCodeAt(0);
      if (this.encrypted) return received;
      out.push(received.subarray(0, 1));
      received = received.subarray(1);
    }
    this.pending.push(received);
    this.pendingBytes += received.length;
    if (this.pendingBytes < this.awaited) return Buffer.concat(out);
    const bytes = Buffer.concat(this.pending.splice(0));
    let at = 0;
    for (;;) {
      this.awaited = bytes.length - at >= 5 ? 1 + bytes.readInt32BE(at + 1) : 5;
      if (bytes.length - at < this.awaited) break;
      if (keep(bytes[at]!)) out.push(bytes.subarray(at, at + this.awaited));
      at += this.awaited;
    }
    this.pending.push(bytes.subarray(at));
    this.pendingBytes = bytes.length - at;
    return Buffer.concat(out);
  }
}
