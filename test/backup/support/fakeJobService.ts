// Test fixture: a small stand-in for the UI's job service on loopback — GET /backup-jobs/:id — that can be stopped and restarted on its port.

import { createServer, type RequestListener, type Server } from 'node:http';
import { createServer as createTlsServer, type Server as TlsServer, type ServerOptions as TlsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface SeenCall {
  readonly path: string;
  readonly requestId: string | undefined;
  readonly authorization: string | undefined;
}

export interface FakeJobService {
  readonly url: string;
  readonly jobs: Map<string, unknown>;
  readonly seen: SeenCall[];
  /** Answer every call with this status instead (e.g. 500), until set back to undefined. */
  failWith: number | undefined;
  stop(): Promise<void>;
  /** Listens again on the same port. */
  start(): Promise<void>;
}

/** With `tls`, it serves https (and asks for client certificates if `tls` says so). */
export async function startFakeJobService(jobs: Record<string, unknown> = {}, tls?: TlsOptions): Promise<FakeJobService> {
  const state = {
    jobs: new Map(Object.entries(jobs)),
    seen: [] as SeenCall[],
    failWith: undefined as number | undefined,
  };
  let server: Server | TlsServer | undefined;
  let port = 0;
  const listen = async (): Promise<void> => {
    const answer: RequestListener = (req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      state.seen.push({ path, requestId: req.headers['x-request-id'] as string | undefined, authorization: req.headers.authorization });
      res.setHeader('content-type', 'application/json');
      if (state.failWith !== undefined) {
        res.statusCode = state.failWith;
        res.end(JSON.stringify({ error: { code: 'broken', message: 'the job service is having a bad day' } }));
        return;
      }
      const match = /^\/backup-jobs\/([^/]+)$/.exec(path);
      const job = match ? state.jobs.get(decodeURIComponent(match[1]!)) : undefined;
      res.statusCode = job === undefined ? 404 : 200;
      res.end(JSON.stringify(job ?? { error: { code: 'not_found', message: 'no such job' } }));
    };
    server = tls ? createTlsServer(tls, answer) : createServer(answer);
    await new Promise<void>((resolve, reject) => {
      server!.once('error', reject);
      server!.listen(port, '127.0.0.1', () => resolve());
    });
    port = (server.address() as AddressInfo).port;
  };
  await listen();
  const service: FakeJobService = {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    jobs: state.jobs,
    seen: state.seen,
    get failWith() {
      return state.failWith;
    },
    set failWith(value) {
      state.failWith = value;
    },
    async stop() {
      const current = server;
      server = undefined;
      if (!current) return;
      await new Promise<void>((resolve) => {
        current.close(() => resolve());
        current.closeAllConnections();
      });
    },
    async start() {
      if (!server) await listen();
    },
  };
  return service;
}
