// The inbox's documents: a zone result kept until recorded, claimable once its request is recorded as Sent.

import type { Snapshot } from '../../engine/snapshot.js';
import type { Runtime } from '../../runtime/runtime.js';
import { unlessTaken, type Store, type Stored } from '../../store/port.js';
import type { ZoneResult } from '../zone.js';

export const INBOX = 'backup-inbox';

// The request chart's name and the states in which a result must wait: the order may not be recorded as sent yet.
export const CHART = 'backup-request';
const NOT_YET_SENT = new Set(['Received', 'Allowed']);

export interface InboxEntry {
  readonly result: ZoneResult;
  readonly receivedAt: string;
  /** Epoch ms from which a replica may claim it; absent while it waits for its request to be recorded as Sent. */
  readonly due?: number;
}

/** Whether the request's result can be recorded: its order is recorded as sent (or the request ended otherwise). */
export function sentYet(request: Snapshot | undefined): request is Snapshot {
  return request !== undefined && !NOT_YET_SENT.has(request.state);
}

/** The entry as it waits for its request to be sent: not claimable. */
export function waiting({ result, receivedAt }: InboxEntry): InboxEntry {
  return { result, receivedAt };
}

/**
 * Makes a waiting entry claimable once its request is sent. Any replica may, on hearing of the request's change: the
 * write expects the revision read, so one of them does it and the others find it done.
 */
export async function wakeIfSent(store: Store, runtime: Runtime, id: string, now: number): Promise<void> {
  const entry = await store.get<InboxEntry>(INBOX, id);
  if (!entry || typeof entry.value.due === 'number' || !sentYet(await runtime.find(CHART, id))) return;
  await store.commit([{ collection: INBOX, key: id, value: { ...entry.value, due: now }, expect: entry.revision }]).catch(unlessTaken);
}

/** Keys of the entries that wait for their request to be sent (entries stored before the inbox was claimable wait too). */
export function waitingKeys(entries: readonly Stored<InboxEntry>[]): string[] {
  return entries.filter(({ value }) => typeof value.due !== 'number').map(({ key }) => key);
}
