// Where the PostgreSQL store lives: a postgres:// URL (from --store or CHARTD_STORE) read into connection settings.

import { StoreError } from '../store.js';

export interface PostgresSettings {
  /** A host name or address, or a Unix socket directory; undefined = PGHOST or localhost, as libpq. */
  readonly host: string | undefined;
  readonly port: number | undefined;
  readonly user: string | undefined;
  /** undefined = PGPASSWORD or ~/.pgpass, as libpq. Never shown. */
  readonly password: string | undefined;
  readonly database: string;
  /** disable: plain TCP; require: encrypted, the server unchecked (libpq's meaning); verify-full: certificate and host name checked. */
  readonly sslMode: SslMode;
  /** A PEM file of the CAs verify-full trusts instead of the system's. */
  readonly sslRootCert: string | undefined;
  readonly applicationName: string;
  /** The URL without its password, for logs and messages. */
  readonly shown: string;
}

export type SslMode = 'disable' | 'require' | 'verify-full';

const SSL_MODES: readonly SslMode[] = ['disable', 'require', 'verify-full'];
const PARAMETERS = ['sslmode', 'sslrootcert', 'application_name', 'host'] as const;
const EXAMPLE = 'postgres://USER@HOST:PORT/DATABASE';

/** Every problem of a store URL at once; the message never holds the password. */
export class StoreUrlInvalid extends StoreError {
  constructor(source: string, readonly problems: readonly string[]) {
    super(`${source} is not a usable PostgreSQL URL (expected ${EXAMPLE}[?sslmode=verify-full]):\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

/** The settings from `--store` if given, else from CHARTD_STORE; undefined when neither names a store. */
export function postgresSettingsFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): PostgresSettings | undefined {
  if (option !== undefined) return readPostgresUrl(option, '--store');
  const fromEnv = env['CHARTD_STORE'];
  return fromEnv ? readPostgresUrl(fromEnv, 'CHARTD_STORE') : undefined;
}

/** Reads `text` (named `source` in errors) as postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?PARAMETERS]. */
export function readPostgresUrl(text: string, source = 'the store URL'): PostgresSettings {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    // The text may hold a password in a place we cannot tell, so none of it is repeated.
    throw new StoreUrlInvalid(source, ['it cannot be read as a URL (a port above 65535, or a "/" or ":" in the password not written as %2F or %3A?)']);
  }
  const problems: string[] = [];
  const decoded = (part: string, what: string): string | undefined => {
    try {
      return decodeURIComponent(part);
    } catch {
      problems.push(`the ${what} is not correctly percent-encoded`);
      return undefined;
    }
  };
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    problems.push(`the scheme is "${url.protocol.slice(0, 20)}", not postgres: or postgresql:`);
  }
  const user = url.username ? decoded(url.username, 'user name') : undefined;
  const password = url.password ? decoded(url.password, 'password') : undefined;
  const database = decoded(url.pathname.replace(/^\//, ''), 'database name') ?? '';
  if (!database) problems.push(`it names no database: add /DATABASE after the host, as in ${EXAMPLE}`);
  else if (database.includes('/')) problems.push('the database name holds a "/" (write it as %2F)');
  if (url.hash) problems.push('it holds a "#" (write it as %23 in a password)');
  const params = url.searchParams;
  for (const name of new Set(params.keys())) {
    if (!(PARAMETERS as readonly string[]).includes(name)) {
      problems.push(`unknown parameter "${name.slice(0, 40)}" (chartd reads ${PARAMETERS.join(', ')}; a password goes in the URL's user part, PGPASSWORD or ~/.pgpass)`);
    }
  }
  const sslMode = (params.get('sslmode') ?? 'disable') as SslMode;
  if (!SSL_MODES.includes(sslMode)) problems.push(`sslmode is "${sslMode.slice(0, 20)}"; chartd takes ${SSL_MODES.join(', ')}`);
  const sslRootCert = params.get('sslrootcert') ?? undefined;
  if (sslRootCert !== undefined && sslMode !== 'verify-full') problems.push('sslrootcert is given without sslmode=verify-full, which is the mode that uses it');
  const host = hostOf(url, params.get('host') ?? undefined, decoded);
  if (host !== undefined && host.startsWith('/') && sslMode !== 'disable') problems.push('a Unix socket takes no sslmode');
  if (problems.length) throw new StoreUrlInvalid(source, problems);
  const port = url.port ? Number(url.port) : undefined;
  const shownUser = url.username ? `${url.username}${url.password ? ':***' : ''}@` : '';
  const shown = `${url.protocol}//${shownUser}${url.host}${url.pathname}${url.search}`;
  return { host, port, user, password, database, sslMode, sslRootCert, applicationName: params.get('application_name') ?? 'chartd', shown };
}

/** The URL's host, or a socket directory: given %2F-encoded in the host part, or as ?host=, as libpq takes it. */
function hostOf(url: URL, parameter: string | undefined, decoded: (part: string, what: string) => string | undefined): string | undefined {
  if (parameter !== undefined) return parameter;
  if (!url.hostname) return undefined;
  const host = decoded(url.hostname, 'host');
  return host?.replace(/^\[(.*)\]$/, '$1');
}
