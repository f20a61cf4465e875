// Backup requests, oldest first, filtered by state and job.

import { useState } from 'preact/hooks';
import { getJson, withQuery } from '../api';
import { useLoad } from '../load';
import { href, navigate } from '../route';
import type { BackupRequest, ChartDetail, Page } from '../types';
import { Badge, ErrorNote, Loading, Pager, Table, Time } from '../parts/common';

const PAGE_SIZE = 50;

export function RequestsPage({ query }: { query: URLSearchParams }) {
  const filters = { state: query.get('state'), jobId: query.get('jobId'), after: query.get('after') };
  const path = withQuery('/backup-requests', { ...filters, limit: PAGE_SIZE });
  const list = useLoad((signal) => getJson<{ requests: BackupRequest[] } & Page>(path, signal), [path]);
  return (
    <>
      <h1>Backup requests</h1>
      <Filters base={href('backup-requests')} query={query} withState />
      {list.error && <ErrorNote error={list.error} what="the backup requests" />}
      {!list.data && !list.error && <Loading what="the backup requests" />}
      {list.data && (
        <>
          <Table caption="Backup requests" head={['Request', 'State', 'Job', 'Data date', 'Received', 'Zone']} empty="No backup requests match.">
            {list.data.requests.map((request) => (
              <tr key={request.id}>
                <th scope="row"><a href={href('backup-requests', request.id)}>{request.id}</a></th>
                <td><RequestState state={request.state} /></td>
                <td>{request.backupJobId}</td>
                <td>{request.dataDate}</td>
                <td><Time at={request.times['received'] ?? ''} /></td>
                <td>{request.zone ?? '—'}</td>
              </tr>
            ))}
          </Table>
          <Pager next={list.data.next} here={query} />
        </>
      )}
    </>
  );
}

export function RequestState({ state }: { state: string }) {
  const tone = state === 'Succeeded' ? 'ok' : state === 'Failed' || state === 'NotAllowed' ? 'bad' : 'active';
  return <Badge tone={tone}>{state}</Badge>;
}

/** The job filter (and the state filter for requests), kept in the address so a filtered list can be shared. */
export function Filters({ base, query, withState }: { base: string; query: URLSearchParams; withState?: boolean }) {
  const [job, setJob] = useState(query.get('jobId') ?? '');
  // A request's states are those of its chart.
  const chart = useLoad((signal) => (withState ? getJson<ChartDetail>('/charts/backup-request', signal) : Promise.resolve(undefined)), [withState]);
  const go = (changes: Record<string, string>): void => {
    const next = new URLSearchParams(query);
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    next.delete('after');
    const text = next.toString();
    navigate(base + (text ? `?${text}` : ''));
  };
  return (
    <form class="filters" onSubmit={(event) => {
      event.preventDefault();
      go({ jobId: job.trim() });
    }}>
      {withState && (
        <label>State
          <select name="state" value={query.get('state') ?? ''} onChange={(event) => go({ state: (event.target as HTMLSelectElement).value })}>
            <option value="">any</option>
            {chart.data?.states.map((state) => <option key={state.name} value={state.name}>{state.name}</option>)}
          </select>
        </label>
      )}
      <label>Job
        <input name="jobId" value={job} placeholder="backup job id" onInput={(event) => setJob((event.target as HTMLInputElement).value)} />
      </label>
      <button type="submit">Filter</button>
    </form>
  );
}
