// Raw HTTP over a socket for hostile tests: any method, target and bytes, hang-ups mid-body, and the answer as it came.

import { connect } from 'node:net';

export interface RawAnswer {
  /** 0 when the server closed the connection without answering. */
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface RawRequest {
  readonly method: string;
  readonly target: string;
  /** Sent as given after Host and Connection: close; a body without Content-Length or Transfer-Encoding gets a Content-Length. */
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer | string;
  /** Sends only this many bytes of the body, then hangs up: `end` closes the connection, `reset` resets it. */
  readonly hangUp?: { readonly after: number; readonly how: 'end' | 'reset' };
}

/** The bytes of `request`, with Host and Connection: close. */
export function requestBytes(request: RawRequest): Buffer {
  const body = request.body === undefined ? undefined : Buffer.from(request.body);
  const headers = [['Host', 'localhost'], ['Connection', 'close'], ...(request.headers ?? [])];
  const framed = headers.some(([name]) => /^(content-length|transfer-encoding)$/i.test(name));
  if (body && !framed) headers.push(['Content-Length', String(body.length)]);
  const head = `${request.method} ${request.target} HTTP/1.1\r\n${headers.map(([name, value]) => `${name}: ${value}`).join('\r\n')}\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body ?? Buffer.alloc(0)]);
}

/** Sends `request` (or bytes as they are) on a new connection and reads what comes back until the server closes it. */
export function exchange(port: number, request: RawRequest | Buffer, timeoutMs = 10_000): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const received: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk) => received.push(chunk));
    // A reset from either side ends the exchange like a close: the test judges what was received.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(parseAnswer(Buffer.concat(received)));
    });
    socket.on('connect', () => {
      if (Buffer.isBuffer(request)) {
        socket.write(request);
        return;
      }
      const bytes = requestBytes(request);
      if (!request.hangUp) {
        socket.write(bytes);
        return;
      }
      const headLength = bytes.indexOf('\r\n\r\n') + 4;
      socket.write(bytes.subarray(0, headLength + request.hangUp.after), () => {
        if (request.hangUp!.how === 'end') socket.end();
        else socket.resetAndDestroy();
      });
    });
  });
}

function parseAnswer(bytes: Buffer): RawAnswer {
  const split = bytes.indexOf('\r\n\r\n');
  if (split < 0) return { status: 0, headers: {}, body: '' };
  const [statusLine = '', ...lines] = bytes.subarray(0, split).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  const rest = bytes.subarray(split + 4);
  const body = headers['transfer-encoding'] === 'chunked' ? unchunk(rest) : rest;
  return { status: Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? 0), headers, body: body.toString('utf8') };
}

function unchunk(bytes: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = bytes.indexOf('\r\n', at);
    const size = lineEnd < 0 ? 0 : Number.parseInt(bytes.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) return Buffer.concat(parts);
    parts.push(bytes.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
}
