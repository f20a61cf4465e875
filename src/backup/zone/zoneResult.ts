// Turns a finished backup-and-encrypt instance into the result a zone reports: where the file is, its size and sha256, failures.

import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Chart } from '../../chart/model.js';
import { renderValue } from '../../chart/template.js';
import { templateScope, type Snapshot, type Transition } from '../../engine/snapshot.js';
import { formatFailure } from '../../runtime/alerts.js';
import type { ZoneResult } from '../zone.js';

/** The state of charts/backup-and-encrypt.yaml that puts the encrypted file in long-term storage. */
export const MOVE_STATE = 'move_backup';

const MAX_FAILURES = 20;
const MAX_FAILURE_CHARS = 2000;

export async function buildResult(chart: Chart, snapshot: Snapshot, history: readonly Transition[], zone: string, prefix: string): Promise<ZoneResult> {
  // Bounded, so a result always fits the controller's request-body limit (64 KiB).
  const failures = snapshot.failures.slice(-MAX_FAILURES)
    .map((failure) => formatFailure({ prefix, node: failure.node, error: failure.error }))
    .map((line) => (line.length > MAX_FAILURE_CHARS ? `${line.slice(0, MAX_FAILURE_CHARS - 1)}…` : line));
  const base = { requestId: snapshot.id, zone, startedAt: snapshot.createdAt, finishedAt: snapshot.enteredAt };
  const moved = history.some((step) => step.from === MOVE_STATE && step.cause === 'success');
  if (!moved) return { ...base, ok: false, failures: failures.length ? failures : ['the backup did not reach long-term storage'] };
  const file = backupFile(chart, snapshot);
  try {
    const info = await stat(file);
    return { ...base, ok: true, file, size: info.size, sha256: await sha256Of(file), failures };
  } catch (error) {
    return { ...base, ok: false, failures: [...failures, `the backup ${file} is gone: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`] };
  }
}

/** Where move_backup put the file: its `to:` rendered for this instance. */
export function backupFile(chart: Chart, snapshot: Snapshot): string {
  const state = chart.states[MOVE_STATE];
  if (state?.kind !== 'step' || typeof state.with['to'] !== 'string') {
    throw new Error(`chart ${chart.name} has no ${MOVE_STATE} step with a to: path; the zone runs charts/backup-and-encrypt.yaml`);
  }
  return String(renderValue(state.with['to'], templateScope(snapshot)));
}

function sha256Of(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
