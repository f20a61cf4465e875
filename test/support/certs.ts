// Test fixture: a private CA and the certificates it signs, made with the real openssl binary as docs/tls.md shows.

import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface CertFiles {
  readonly cert: string;
  readonly key: string;
}

export interface Certificates {
  readonly dir: string;
  /** The private CA's certificate: what --ca-file, --tls-client-ca and curl --cacert are given. */
  readonly ca: string;
  /** For 127.0.0.1 and localhost (subjectAltName), signed by the CA. */
  readonly server: CertFiles;
  /** A client certificate signed by the CA. */
  readonly client: CertFiles;
  /** A client certificate signed by another CA, which the private CA must not vouch for. */
  readonly stranger: CertFiles;
  cleanup(): Promise<void>;
}

// P-256 keys: as good as RSA here and made in a blink.
const NEW_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];

export async function makeCertificates(): Promise<Certificates> {
  const dir = await mkdtemp(join(tmpdir(), 'chartd-certs-'));
  const at = (name: string): string => join(dir, name);
  const [ca, other] = await Promise.all([makeCa(at('ca'), 'chartd test CA'), makeCa(at('other-ca'), 'some other CA')]);
  await writeFile(at('server.ext'), 'subjectAltName = IP:127.0.0.1, DNS:localhost\nextendedKeyUsage = serverAuth\n');
  await writeFile(at('client.ext'), 'extendedKeyUsage = clientAuth\n');
  const [server, client, stranger] = await Promise.all([
    signed(at('server'), 'localhost', ca, at('server.ext')),
    signed(at('client'), 'chartd client', ca, at('client.ext')),
    signed(at('stranger'), 'stranger', other, at('client.ext')),
  ]);
  return { dir, ca: ca.cert, server, client, stranger, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

async function makeCa(base: string, name: string): Promise<CertFiles> {
  const files = { cert: `${base}.pem`, key: `${base}.key` };
  await run('openssl', ['req', '-x509', ...NEW_KEY, '-keyout', files.key, '-out', files.cert, '-days', '2', '-subj', `/CN=${name}`]);
  return files;
}

async function signed(base: string, name: string, ca: CertFiles, extensions: string): Promise<CertFiles> {
  const files = { cert: `${base}.pem`, key: `${base}.key` };
  await run('openssl', ['req', ...NEW_KEY, '-keyout', files.key, '-out', `${base}.csr`, '-subj', `/CN=${name}`]);
  // A serial of its own, not -CAcreateserial: certificates of one CA are signed at once here, and would race for ca.srl.
  await run('openssl', ['x509', '-req', '-in', `${base}.csr`, '-CA', ca.cert, '-CAkey', ca.key, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
    '-out', files.cert, '-days', '2', '-extfile', extensions]);
  return files;
}
