// Backups the controller recorded, by data date, filtered by job.

import { getJson, withQuery } from '../api';
import { bytes } from '../format';
import { useLoad } from '../load';
import { href } from '../route';
import type { BackupRecord, Page } from '../types';
import { ErrorNote, Loading, Pager, Table, Time } from '../parts/common';
import { Filters } from './RequestsPage';

const PAGE_SIZE = 50;

export function BackupsPage({ query }: { query: URLSearchParams }) {
  const path = withQuery('/backups', { jobId: query.get('jobId'), after: query.get('after'), limit: PAGE_SIZE });
  const list = useLoad((signal) => getJson<{ backups: BackupRecord[] } & Page>(path, signal), [path]);
  return (
    <>
      <h1>Backups</h1>
      <Filters base={href('backups')} query={query} />
      {list.error && <ErrorNote error={list.error} what="the backups" />}
      {!list.data && !list.error && <Loading what="the backups" />}
      {list.data && (
        <>
          <Table caption="Backups" head={['Data date', 'Job', 'Client / database', 'Zone', 'Size', 'SHA-256', 'Made', 'Request']} empty="No backups match.">
            {list.data.backups.map((backup) => (
              <tr key={backup.id}>
                <th scope="row">{backup.dataDate}</th>
                <td>{backup.backupJobId}</td>
                <td>{backup.client} / {backup.database}</td>
                <td>{backup.zone}</td>
                <td class="number">{bytes(backup.size)}</td>
                <td><code title={backup.sha256}>{backup.sha256.slice(0, 12)}…</code></td>
                <td><Time at={backup.createdAt} /></td>
                <td><a href={href('backup-requests', backup.requestId)}>{backup.requestId}</a></td>
              </tr>
            ))}
          </Table>
          <Pager next={list.data.next} here={query} />
        </>
      )}
    </>
  );
}
