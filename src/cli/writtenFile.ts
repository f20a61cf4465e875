// What a finished run left behind: the file its last successful writing step produced, if it is still there.

import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Chart } from '../chart/model.js';
import { renderValue } from '../chart/template.js';
import { templateScope, type Snapshot, type Transition } from '../engine/snapshot.js';
import type { HandlerLookup } from '../handlers/handler.js';
import type { WrittenFile } from './runOutput.js';

/**
 * Walks the run's successful steps from the last: the first whose handler writes a file (Handler.writes) that still
 * exists is it. In backup-and-encrypt that is move_backup's encrypted file, the dumps and tarball having been removed.
 */
export async function writtenFile(chart: Chart, snapshot: Snapshot, history: readonly Transition[], handlers: HandlerLookup): Promise<WrittenFile | undefined> {
  const scope = templateScope(snapshot);
  for (const move of [...history].reverse()) {
    const def = move.cause === 'success' && move.from !== null ? chart.states[move.from] : undefined;
    const argument = def?.kind === 'step' ? handlers.get(def.run)?.writes : undefined;
    const template = def?.kind === 'step' && argument !== undefined ? def.with[argument] : undefined;
    if (typeof template !== 'string') continue;
    const path = resolve(String(renderValue(template, scope)));
    const info = await stat(path).catch(() => undefined);
    if (info?.isFile()) return { path, bytes: info.size };
  }
  return undefined;
}
