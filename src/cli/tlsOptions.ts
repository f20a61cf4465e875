// The TLS flags serve and zone share: the certificate they listen with, and whom their own calls trust and show.

import { resolve } from 'node:path';
import type { CertAndKey, OutgoingTls, ServerTls } from '../net/tlsFiles.js';
import type { ChartdCommand } from './command.js';
import { UsageError } from './usage.js';

export interface TlsValues {
  readonly tlsCert?: string;
  readonly tlsKey?: string;
  readonly tlsClientCa?: string;
  readonly caFile?: string;
  readonly clientCert?: string;
  readonly clientKey?: string;
}

/** Adds the TLS options (docs/tls.md), checked with the rest of the command line. */
export function tlsOptions(command: ChartdCommand): void {
  command
    .accept('--tls-cert <FILE>', 'serve https with this certificate (chain); with --tls-key')
    .accept('--tls-key <FILE>', "the certificate's private key")
    .accept('--tls-client-ca <FILE>', 'also require client certificates signed by this CA')
    .accept('--ca-file <FILE>', 'trust only these CAs for the https:// peers chartd calls')
    .accept('--client-cert <FILE>', 'the certificate chartd shows to peers that ask for one; with --client-key')
    .accept('--client-key <FILE>', "the client certificate's private key")
    .check<TlsValues>((values) => void tlsConfig(values));
}

export function tlsConfig(values: TlsValues): { tls?: ServerTls; outgoing?: OutgoingTls } {
  const problems: string[] = [];
  const server = certAndKey(values.tlsCert, values.tlsKey, '--tls-cert', '--tls-key', problems);
  const clientCa = values.tlsClientCa;
  if (clientCa !== undefined && values.tlsCert === undefined && values.tlsKey === undefined) {
    problems.push('--tls-client-ca needs --tls-cert and --tls-key: client certificates are asked for only over TLS');
  }
  const client = certAndKey(values.clientCert, values.clientKey, '--client-cert', '--client-key', problems);
  if (problems.length) throw new UsageError(...problems);
  const ca = values.caFile;
  return {
    ...(server ? { tls: { ...server, ...(clientCa !== undefined ? { clientCa: resolve(clientCa) } : {}) } } : {}),
    ...(ca !== undefined || client ? { outgoing: { ...(ca !== undefined ? { ca: resolve(ca) } : {}), ...(client ? { client } : {}) } } : {}),
  };
}

function certAndKey(cert: string | undefined, key: string | undefined, certFlag: string, keyFlag: string, problems: string[]): CertAndKey | undefined {
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) {
    problems.push(`${certFlag} and ${keyFlag} go together: ${cert === undefined ? `${certFlag} FILE (the certificate)` : `${keyFlag} FILE (its private key)`} is missing`);
    return undefined;
  }
  return { cert: resolve(cert), key: resolve(key) };
}
