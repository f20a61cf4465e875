// An instance kept current: loaded once, then loaded again whenever its event stream says it changed.

import { useEffect, useState } from 'preact/hooks';
import { getJson, pathOf } from './api';
import { useLoad, type Loaded } from './load';
import { watchEvents, type WatchStatus } from './watch';
import type { Snapshot } from './types';

export interface Live extends Loaded<Snapshot> {
  readonly stream: WatchStatus;
  readonly streamProblem?: string;
}

export function useLiveInstance(chart: string, id: string): Live {
  const loaded = useLoad((signal) => getJson<Snapshot>(pathOf('/charts', chart, 'instances', id), signal), [chart, id]);
  const [stream, setStream] = useState<{ status: WatchStatus; problem?: string }>({ status: 'connecting' });
  const { reload } = loaded;
  useEffect(() => {
    const controller = new AbortController();
    watchEvents(pathOf('/charts', chart, 'instances', id, 'events'), {
      // Every event means the instance moved; one load after a burst of them is enough, and reload() merges them.
      onEvent: () => reload(),
      onStatus: (status, problem) => setStream(problem ? { status, problem } : { status }),
    }, controller.signal);
    return () => controller.abort();
  }, [chart, id, reload]);
  return { ...loaded, stream: stream.status, ...(stream.problem ? { streamProblem: stream.problem } : {}) };
}
