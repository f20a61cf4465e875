// Reads the PEM files the TLS flags name and checks them, so a wrong file stops start-up with the flag, the file and the cause.

import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { ServerOptions } from 'node:https';
import { createSecureContext } from 'node:tls';

/** A certificate (with its chain, if any) and its private key, as file paths. */
export interface CertAndKey {
  readonly cert: string;
  readonly key: string;
}

/** `--tls-cert`, `--tls-key` and `--tls-client-ca` of serve and zone. */
export interface ServerTls extends CertAndKey {
  /** Require client certificates signed by this CA. */
  readonly clientCa?: string;
}

/** `--ca-file`, `--client-cert` and `--client-key`: how chartd's own outgoing calls use TLS. */
export interface OutgoingTls {
  /** Trust only these CAs for https:// peers (Node's built-in list when absent). */
  readonly ca?: string;
  readonly client?: CertAndKey;
}

/** What node:tls takes for outgoing connections: PEM text. */
export interface TlsMaterial {
  readonly cert?: string;
  readonly key?: string;
  readonly ca?: string;
}

const CERTIFICATE_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** node:https server options; with a client CA, a client without a certificate it signed fails the handshake. */
export async function loadServerTls(files: ServerTls): Promise<ServerOptions> {
  const pair = await loadPair(files, '--tls-cert', '--tls-key');
  if (files.clientCa === undefined) return pair;
  const { pem: ca } = await readCertificates(files.clientCa, '--tls-client-ca');
  return { ...pair, ca, requestCert: true, rejectUnauthorized: true };
}

export async function loadOutgoingTls(files: OutgoingTls): Promise<TlsMaterial> {
  const ca = files.ca === undefined ? undefined : (await readCertificates(files.ca, '--ca-file')).pem;
  const pair = files.client ? await loadPair(files.client, '--client-cert', '--client-key') : undefined;
  return { ...pair, ...(ca ? { ca } : {}) };
}

async function loadPair(files: CertAndKey, certFlag: string, keyFlag: string): Promise<{ cert: string; key: string }> {
  const { pem: cert, first } = await readCertificates(files.cert, certFlag);
  const key = await readPem(files.key, keyFlag);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(key) || /passphrase/i.test((error as Error).message);
    throw new Error(encrypted
      ? `${keyFlag} ${files.key}: the private key is encrypted; give an unencrypted key file readable only by chartd's user (openssl pkey -in ENCRYPTED -out KEY)`
      : `${keyFlag} ${files.key}: not a PEM private key (${reason(error)}); expected a file starting with -----BEGIN PRIVATE KEY-----`);
  }
  // The first certificate of the file is the one presented; the rest are its chain.
  if (!first.checkPrivateKey(privateKey)) {
    throw new Error(`${keyFlag} ${files.key} does not match the certificate in ${certFlag} ${files.cert}; give the key the certificate was made for`);
  }
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    throw new Error(`${certFlag} ${files.cert} with ${keyFlag} ${files.key}: TLS refuses them: ${reason(error)}`);
  }
  return { cert, key };
}

/** One or more PEM certificates, each of which must parse. */
async function readCertificates(file: string, flag: string): Promise<{ pem: string; first: X509Certificate }> {
  const pem = await readPem(file, flag);
  const blocks = pem.match(CERTIFICATE_BLOCK) ?? [];
  if (!blocks.length) throw new Error(`${flag} ${file}: not a PEM certificate; expected a file holding -----BEGIN CERTIFICATE-----`);
  const certificates = blocks.map((block, index) => {
    try {
      return new X509Certificate(block);
    } catch (error) {
      throw new Error(`${flag} ${file}: certificate ${index + 1} of ${blocks.length} cannot be read (${reason(error)})`);
    }
  });
  return { pem, first: certificates[0]! };
}

async function readPem(file: string, flag: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    throw new Error(`${flag} ${file}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? reason(error)})`);
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
