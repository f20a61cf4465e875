// TLS as operators use it: `chartd serve` over https checked with the real curl, bad certificate files refused at
// start-up, and chartd's own calls (JSON services, the alert webhook) to https peers of a private CA made with openssl.

import { execFile } from 'node:child_process';
import { createServer as createTlsServer, type Server as TlsServer, type ServerOptions as TlsOptions } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callJson } from '../../src/backup/callJson.js';
import { createHttpClient, type HttpClient } from '../../src/net/httpClient.js';
import { isLoopback } from '../../src/net/loopback.js';
import { loadServerTls } from '../../src/net/tlsFiles.js';
import { startServer, startZoneServer } from '../../src/servers.js';
import { makeCertificates, type Certificates } from '../support/certs.js';
import { CLI, spawnServer } from '../support/child.js';
import { removeDir, tempDir, TRAFFIC_LIGHT, writeCharts } from '../support/server.js';
import { until } from '../support/wait.js';

let certs: Certificates;
let chartDir: string;
const dirs: string[] = [];

beforeAll(async () => {
  certs = await makeCertificates();
  chartDir = await dataDir();
  await writeCharts(chartDir, { 'traffic-light.yaml': TRAFFIC_LIGHT });
});

afterAll(async () => {
  await certs?.cleanup();
  for (const dir of dirs) await removeDir(dir);
});

async function dataDir(): Promise<string> {
  const dir = await tempDir('chartd-tls-');
  dirs.push(dir);
  return dir;
}

interface CurlAnswer {
  readonly exit: number;
  readonly status: number;
  readonly body: string;
  readonly stderr: string;
}

function curl(args: string[]): Promise<CurlAnswer> {
  return new Promise((resolve) => {
    execFile('curl', ['-sS', '--max-time', '10', '-w', '\n%{http_code}', ...args], (error, stdout, stderr) => {
      const lines = stdout.split('\n');
      const status = Number(lines.pop());
      resolve({ exit: error ? Number(error.code) : 0, status, body: lines.join('\n'), stderr });
    });
  });
}

/** Runs `chartd ARGS` to its exit. */
function chartd(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, _stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stderr });
    });
  });
}

const serverFlags = () => ['--tls-cert', certs.server.cert, '--tls-key', certs.server.key];

describe('chartd serve over https', () => {
  it('answers curl --cacert with 200 and 406; curl without the CA refuses the certificate', async () => {
    const server = await spawnServer(['--chart', chartDir, '--data', await dataDir(), ...serverFlags()]);
    try {
      expect(server.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const port = new URL(server.url).port;
      expect(await curl(['--cacert', certs.ca, `${server.url}/state?state=green_state`])).toMatchObject({ exit: 0, status: 200, body: 'green_state' });
      expect(await curl(['--cacert', certs.ca, `https://localhost:${port}/state?state=red_state`])).toMatchObject({ exit: 0, status: 406 });
      const untrusted = await curl([`${server.url}/state?state=green_state`]);
      expect(untrusted.exit).toBe(60);
      expect(untrusted.stderr).toMatch(/certificate/);
      expect((await curl([`http://127.0.0.1:${port}/state?state=green_state`])).status).not.toBe(200);
    } finally {
      await server.kill();
    }
  });

  it('with --tls-client-ca, refuses in the handshake a client without a certificate that CA signed', async () => {
    const server = await spawnServer(['--chart', chartDir, '--data', await dataDir(), ...serverFlags(), '--tls-client-ca', certs.ca]);
    try {
      const url = `${server.url}/state?state=green_state`;
      const [anonymous, stranger, client] = await Promise.all([
        curl(['--cacert', certs.ca, url]),
        curl(['--cacert', certs.ca, '--cert', certs.stranger.cert, '--key', certs.stranger.key, url]),
        curl(['--cacert', certs.ca, '--cert', certs.client.cert, '--key', certs.client.key, url]),
      ]);
      expect(anonymous.exit).not.toBe(0);
      expect(anonymous.status).toBe(0);
      expect(stranger.exit).not.toBe(0);
      expect(stranger.status).toBe(0);
      expect(client).toMatchObject({ exit: 0, status: 200, body: 'green_state' });
    } finally {
      await server.kill();
    }
  });

  it('refuses to start on wrong certificate files, naming the flag, the file and the cause, without a stack trace', async () => {
    const data = await dataDir();
    const missing = join(certs.dir, 'missing.pem');
    const cases: [string[], string][] = [
      [['--tls-cert', missing, '--tls-key', certs.server.key], `--tls-cert ${missing}: cannot read the file (ENOENT)`],
      [['--tls-cert', certs.server.key, '--tls-key', certs.server.key], `--tls-cert ${certs.server.key}: not a PEM certificate`],
      [['--tls-cert', certs.server.cert, '--tls-key', certs.server.cert], `--tls-key ${certs.server.cert}: not a PEM private key`],
      [['--tls-cert', certs.server.cert, '--tls-key', certs.client.key], `--tls-key ${certs.client.key} does not match the certificate in --tls-cert ${certs.server.cert}`],
      [[...serverFlags(), '--tls-client-ca', certs.server.key], `--tls-client-ca ${certs.server.key}: not a PEM certificate`],
      [['--ca-file', certs.client.key], `--ca-file ${certs.client.key}: not a PEM certificate`],
      [['--client-cert', certs.client.cert, '--client-key', certs.server.key], `--client-key ${certs.server.key} does not match the certificate in --client-cert ${certs.client.cert}`],
    ];
    const answers = await Promise.all(cases.map(([flags]) => chartd(['serve', '--chart', chartDir, '--data', data, '--port', '0', '--log-level', 'warn', ...flags])));
    for (const [index, [, message]] of cases.entries()) {
      expect(answers[index], message).toMatchObject({ code: 1, stderr: expect.stringContaining(message) });
      expect(answers[index]!.stderr).not.toMatch(/\n\s+at /);
    }
    const [halfServer, halfClient] = await Promise.all([chartd(['serve', '--tls-cert', certs.server.cert]), chartd(['serve', '--client-key', certs.client.key])]);
    expect(halfServer).toMatchObject({ code: 2, stderr: expect.stringContaining('--tls-cert and --tls-key go together: --tls-key FILE (its private key) is missing') });
    expect(halfClient).toMatchObject({ code: 2, stderr: expect.stringContaining('--client-cert and --client-key go together: --client-cert FILE (the certificate) is missing') });
  });
});

describe('plain HTTP on an address other hosts reach', () => {
  it('is what isLoopback tells apart', () => {
    for (const host of ['127.0.0.1', '127.8.9.10', 'localhost', '::1', '[::1]', '::ffff:127.0.0.1']) expect(isLoopback(host), host).toBe(true);
    for (const host of ['0.0.0.0', '::', '10.1.2.3', '::ffff:10.0.0.1', 'backup.internal']) expect(isLoopback(host), host).toBe(false);
  });

  it('gets one warning at start-up from serve and zone, naming the fix; none with TLS or on loopback', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (line: string) => lines.push(line) });
    const warnings = () => lines.filter((line) => line.includes('bearer tokens and data travel in clear'));
    const data = await dataDir();
    const serveOn = async (host: string, tls?: boolean): Promise<number> => {
      lines.length = 0;
      const server = await startServer({ chartPaths: [chartDir], dataDir: data, port: 0, host, log, insecureNoAuth: true, ...(tls ? { tls: certs.server } : {}) });
      await server.close();
      return warnings().length;
    };
    expect(await serveOn('0.0.0.0')).toBe(1);
    expect(warnings()[0]).toMatch(/--tls-cert and --tls-key, or put a TLS-terminating proxy in front/);
    expect(await serveOn('127.0.0.1')).toBe(0);
    expect(await serveOn('0.0.0.0', true)).toBe(0);

    lines.length = 0;
    process.env['CHARTD_TEST_TLS_TOKEN'] = 'z'.repeat(32);
    const zone = await startZoneServer({
      name: 'east', storageRoot: await dataDir(), dataDir: await dataDir(), port: 0, host: '0.0.0.0', controllerUrl: 'https://127.0.0.1:1',
      token: { env: 'CHARTD_TEST_TLS_TOKEN' }, controllerToken: { env: 'CHARTD_TEST_TLS_TOKEN' }, log,
    });
    await zone.close();
    expect(warnings()).toHaveLength(1);
  });
});

interface Peer {
  readonly url: string;
  /** Each request's path, body, and the subject of the client certificate it came with. */
  readonly seen: { path: string; body: string; client: string | undefined }[];
  close(): Promise<void>;
}

/** An https peer with the CA's server certificate; with `clientCa`, it requires client certificates. */
async function startPeer(clientCa = false): Promise<Peer> {
  const options: TlsOptions = await loadServerTls({ ...certs.server, ...(clientCa ? { clientCa: certs.ca } : {}) });
  const seen: Peer['seen'] = [];
  const server: TlsServer = createTlsServer(options, (req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    req.on('end', () => {
      const subject = (req.socket as import('node:tls').TLSSocket).getPeerCertificate().subject as { CN?: string } | undefined;
      seen.push({ path: req.url ?? '', body, client: subject?.CN });
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

describe("chartd's own calls to https peers", () => {
  const clients: HttpClient[] = [];
  const client = async (options: Parameters<typeof createHttpClient>[0]): Promise<HttpClient> => {
    const made = await createHttpClient(options);
    clients.push(made);
    return made;
  };
  afterAll(async () => {
    for (const each of clients) await each.close();
  });

  const call = (http: HttpClient, url: string) => callJson(http.fetch, `${url}/orders`, {
    method: 'POST', headers: {}, body: { hello: 'zone' }, signal: AbortSignal.timeout(5000), service: 'zone east',
  });

  it('verify the peer against --ca-file; without it the call fails, saying the certificate is not trusted and what to give', async () => {
    const peer = await startPeer();
    try {
      await expect(call(await client({}), peer.url)).rejects.toThrow(new RegExp(`^zone east cannot be reached at ${peer.url}/orders: `
        + "UNABLE_TO_VERIFY_LEAF_SIGNATURE \\(unable to verify the first certificate\\); the peer's TLS certificate is not trusted: give --ca-file the CA that signed it$"));
      expect(peer.seen).toHaveLength(0);
      expect(await call(await client({ ca: certs.ca }), peer.url)).toEqual({ status: 200, body: { ok: true } });
      expect(peer.seen).toEqual([{ path: '/orders', body: '{"hello":"zone"}', client: undefined }]);
    } finally {
      await peer.close();
    }
  });

  it('present --client-cert to a peer that requires one, which refuses a call without it', async () => {
    const peer = await startPeer(true);
    try {
      await expect(call(await client({ ca: certs.ca }), peer.url)).rejects.toThrow(`zone east cannot be reached at ${peer.url}/orders`);
      expect(await call(await client({ ca: certs.ca, client: certs.client }), peer.url)).toMatchObject({ status: 200 });
      expect(peer.seen.map((each) => each.client)).toEqual(['chartd client']);
    } finally {
      await peer.close();
    }
  });

  it('POST the alert webhook to an https peer of the private CA that requires the client certificate', async () => {
    const peer = await startPeer(true);
    const charts = await dataDir();
    await writeCharts(charts, {
      'late.yaml': 'chart: late\ninitial: waiting\nstates:\n  waiting:\n    on: { ok: done }\n    timeout: { after: 1ms, next: failed }\n  done: { final: true }\n  failed: { final: true }\n',
    });
    const server = await startServer({
      chartPaths: [charts], dataDir: await dataDir(), port: 0, host: '127.0.0.1', log: pino({ level: 'silent' }),
      alertWebhook: `${peer.url}/alerts`, outgoing: { ca: certs.ca, client: certs.client },
    });
    try {
      // The chart's default instance times out at once.
      await until(() => peer.seen.length > 0, 'the alert');
      expect(peer.seen).toHaveLength(1);
      expect(peer.seen[0]).toMatchObject({ path: '/alerts', client: 'chartd client' });
      expect(JSON.parse(peer.seen[0]!.body)).toMatchObject({ type: 'chartd.failure', chart: 'late', instance: 'default', node: 'waiting' });
    } finally {
      await server.close();
      await peer.close();
    }
  });
});
