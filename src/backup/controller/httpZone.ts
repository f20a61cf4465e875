// Zone adapter over HTTP: POST {url}/orders with the zone's bearer token, bounded, retried, circuit-broken.

import type { CallPolicy } from '../resilience.js';
import type { ZoneConfig } from './config.js';
import { Unusable } from '../errors.js';
import { callJson } from '../callJson.js';
import type { Fetch } from '../../net/httpClient.js';
import { linkService } from '../link.js';
import { createResilience } from '../resilience.js';
import type { Zone, ZoneOrder, ZoneReceipt } from '../zone.js';

export function createHttpZone(config: ZoneConfig, policy: CallPolicy, fetch: Fetch): Zone {
  const service = `zone ${config.name} (${config.url})`;
  const resilient = createResilience(service, policy);
  return {
    name: config.name,
    url: config.url,
    circuit: () => resilient.circuit(),
    link: linkService(`zone:${config.name}`, resilient, policy.timeoutMs, (signal) => callJson(fetch, `${config.url}/healthz`, { method: 'GET', headers: {}, signal, service })),
    async dispatch(order: ZoneOrder, signal?: AbortSignal): Promise<ZoneReceipt> {
      const answer = await resilient.execute((callSignal) => callJson(fetch, `${config.url}/orders`, {
        method: 'POST',
        headers: { authorization: `Bearer ${config.token.reveal()}`, 'x-request-id': order.requestId },
        body: order,
        signal: callSignal,
        service,
      }), signal);
      const receipt = answer.body as Partial<ZoneReceipt> | undefined;
      if (receipt?.requestId !== order.requestId) {
        throw new Unusable(`${service} acknowledged the order for ${order.requestId} with ${JSON.stringify(answer.body)?.slice(0, 200)}`);
      }
      return { requestId: order.requestId, zone: typeof receipt.zone === 'string' ? receipt.zone : config.name, created: receipt.created === true };
    },
  };
}
