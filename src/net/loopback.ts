// Whether a listen address is reachable only from this host, which decides if plain HTTP is worth a warning.

import { isIPv4, isIPv6 } from 'node:net';

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  if (bare === 'localhost' || bare.endsWith('.localhost')) return true;
  if (isIPv4(bare)) return bare.startsWith('127.');
  // The URL parser writes an IPv6 address one way: [::1], and ::ffff:127.x.y.z as [::ffff:7fxx:yyzz].
  if (isIPv6(bare)) return /^\[(::1|::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4})\]$/.test(new URL(`http://[${bare}]`).hostname);
  return false;
}
