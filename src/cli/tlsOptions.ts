// The TLS flags serve and zone share: the certificate they listen with, and whom their own calls trust and show.

import { resolve } from 'node:path';
import type { CertAndKey, OutgoingTls, ServerTls } from '../net/tlsFiles.js';
import { UsageError } from './usage.js';

export const TLS_OPTIONS = {
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'tls-client-ca': { type: 'string' },
  'ca-file': { type: 'string' },
  'client-cert': { type: 'string' },
  'client-key': { type: 'string' },
} as const;

type TlsValues = { readonly [flag in keyof typeof TLS_OPTIONS]?: string | undefined };

export function tlsConfig(values: TlsValues): { tls?: ServerTls; outgoing?: OutgoingTls } {
  const server = certAndKey(values['tls-cert'], values['tls-key'], '--tls-cert', '--tls-key');
  const clientCa = values['tls-client-ca'];
  if (clientCa !== undefined && !server) throw new UsageError('--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for only over TLS');
  const client = certAndKey(values['client-cert'], values['client-key'], '--client-cert', '--client-key');
  const ca = values['ca-file'];
  return {
    ...(server ? { tls: { ...server, ...(clientCa !== undefined ? { clientCa: resolve(clientCa) } : {}) } } : {}),
    ...(ca !== undefined || client ? { outgoing: { ...(ca !== undefined ? { ca: resolve(ca) } : {}), ...(client ? { client } : {}) } } : {}),
  };
}

function certAndKey(cert: string | undefined, key: string | undefined, certFlag: string, keyFlag: string): CertAndKey | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    throw new UsageError(`${certFlag} and ${keyFlag} go together: ${cert === undefined ? `${certFlag} FILE (the certificate)` : `${keyFlag} FILE (its private key)`} is missing`);
  }
  return { cert: resolve(cert), key: resolve(key) };
}
