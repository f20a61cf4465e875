// One backup request: where it is in its lifecycle, drawn on its chart and kept live, with its times and result.

import { useEffect } from 'preact/hooks';
import { getJson, pathOf } from '../api';
import { useLoad } from '../load';
import { useLiveInstance } from '../live';
import { href } from '../route';
import type { BackupRequest } from '../types';
import { Diagram } from '../parts/Diagram';
import { ErrorNote, Facts, Loading, Time } from '../parts/common';
import { Failures, Timeline } from '../parts/history';
import { RequestState } from './RequestsPage';

const REQUEST_CHART = 'backup-request';
const TIME_NAMES: Record<string, string> = {
  received: 'Received', checkedAllowed: 'Checked against its job', responded: 'Answered', sentToZone: 'Sent to the zone',
  resultReceived: 'Result received', resultRecorded: 'Result recorded', stateChanged: 'Entered its state',
};

export function RequestPage({ id }: { id: string }) {
  // The request's lifecycle is an instance of backup-request: its stream says when to read the request again.
  const live = useLiveInstance(REQUEST_CHART, id);
  const view = useLoad((signal) => getJson<BackupRequest>(pathOf('/backup-requests', id), signal), [id]);
  const { reload } = view;
  useEffect(() => {
    if (live.data) reload();
  }, [live.data?.revision, reload]);
  const request = view.data;
  const heading = <h1><a href={href('backup-requests')}>Backup requests</a> / {id}</h1>;
  if (view.error && !request) return <>{heading}<ErrorNote error={view.error} what={`backup request ${id}`} /></>;
  if (!request) return <>{heading}<Loading what={`backup request ${id}`} /></>;
  const times = Object.entries(request.times).filter((entry): entry is [string, string] => Boolean(entry[1]));
  return (
    <>
      {heading}
      <Facts items={[
        ['State', <RequestState state={request.state} />],
        ['Job', request.backupJobId],
        ['Data date', request.dataDate],
        ['Came by', request.transport],
        request.zone ? ['Zone', request.zone] : null,
        request.backupId ? ['Backup', <code>{request.backupId}</code>] : null,
        request.notAllowedReason ? ['Not allowed because', request.notAllowedReason] : null,
        request.lastError ? ['Last error', <>{request.lastError.step}: {request.lastError.message} (<Time at={request.lastError.at} />)</>] : null,
      ]} />
      {live.data && (
        <Diagram src={pathOf('/charts', REQUEST_CHART, 'instances', id, 'diagram.svg')} revision={live.data.revision}
          label={`The request's lifecycle on chart ${REQUEST_CHART}: it is now in ${request.state}, filled yellow.`} />
      )}
      <section aria-labelledby="times-heading">
        <h2 id="times-heading">Times</h2>
        <Facts items={times.map(([name, at]) => [TIME_NAMES[name] ?? name, <Time at={at} />] as const)} />
      </section>
      <Failures failures={request.failures} />
      <Timeline history={request.history} />
    </>
  );
}
