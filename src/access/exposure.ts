// Safe by default: without authentication chartd listens only where no one else can reach it.

import { isLoopback } from '../net/loopback.js';

export interface Exposure {
  readonly host: string;
  readonly authenticating: boolean;
  /** --insecure-no-auth: the operator accepts serving without tokens beyond loopback. */
  readonly insecure: boolean;
}

/** Why the server must not start as configured, or undefined when it may. */
export function exposureProblem({ host, authenticating, insecure }: Exposure): string | undefined {
  if (authenticating || insecure || isLoopback(host)) return undefined;
  return `refusing to listen on ${host} without authentication: anyone who can reach it could create and move instances, `
    + 'run the charts\' steps and read every instance. Give --auth FILE (`chartd token new NAME --scope admin` makes a token '
    + 'and prints the lines for the file), listen on 127.0.0.1, or pass --insecure-no-auth to accept the risk';
}

/** What /healthz says of access, and the warning logged at start-up when the server is exposed without tokens. */
export function describeAccess({ host, authenticating, insecure }: Exposure, reads: 'open' | 'token' | undefined): { access: Record<string, unknown>; warning?: string } {
  if (authenticating) return { access: { authentication: 'tokens', reads: reads ?? 'token' } };
  if (!insecure || isLoopback(host)) return { access: { authentication: 'off', listening: 'loopback only' } };
  const warning = `authentication is off (--insecure-no-auth) and chartd listens on ${host}: anyone who can reach it may do anything but deliver zone results`;
  return { access: { authentication: 'off', listening: host, warning }, warning };
}
