// The first look: charts with their counts, instances needing a look, store health, the services and the backup controller.

import { getJson } from '../api';
import { bytes, relative } from '../format';
import { useLoad, useNow } from '../load';
import { href } from '../route';
import type { Attention, ControllerStatus, Overview, ServiceStatus } from '../types';
import { Badge, ErrorNote, Facts, Loading, StatusBadge, Table, Time } from '../parts/common';

export function OverviewPage() {
  const overview = useLoad((signal) => getJson<Overview>('/overview', signal), []);
  const data = overview.data;
  return (
    <>
      <div class="heading">
        <h1>Overview</h1>
        <button type="button" onClick={overview.reload} disabled={overview.loading}>Refresh</button>
      </div>
      {overview.error && <ErrorNote error={overview.error} what="the overview" />}
      {!data && !overview.error && <Loading what="the overview" />}
      {data && (
        <>
          <section aria-labelledby="charts-heading">
            <h2 id="charts-heading">Charts</h2>
            <Table caption="Charts served" head={['Chart', 'Instances', 'Active', 'Done', 'By state', 'Version']} empty="No charts are served.">
              {data.charts.map((chart) => (
                <tr key={chart.name}>
                  <th scope="row"><a href={href('charts', chart.name)}>{chart.name}</a>{chart.description && <div class="muted">{chart.description}</div>}</th>
                  <td class="number">{chart.counts.total}</td>
                  <td class="number">{chart.counts.active}</td>
                  <td class="number">{chart.counts.done}</td>
                  <td>
                    <ul class="inline">
                      {Object.entries(chart.counts.byState).map(([state, count]) => (
                        <li key={state}><a href={`${href('charts', chart.name)}?state=${encodeURIComponent(state)}`}>{state}</a> {count.active + count.done}</li>
                      ))}
                    </ul>
                  </td>
                  <td><code>{chart.version}</code></td>
                </tr>
              ))}
            </Table>
          </section>
          <AttentionList attention={data.attention} />
          <section aria-labelledby="health-heading">
            <h2 id="health-heading">Store and services</h2>
            <Facts items={[
              ['Store', data.store.ok ? <Badge tone="ok">writing</Badge> : <><Badge tone="bad">failing</Badge> {data.store.problem} (since <Time at={data.store.since ?? ''} />)</>],
              data.store.warning ? ['Store warning', data.store.warning] : null,
            ]} />
            <Services services={data.services} />
            {data.services.some((service) => service.name === 'backup-controller') && <Controller />}
          </section>
        </>
      )}
    </>
  );
}

const TONES: Record<ServiceStatus['state'], 'ok' | 'bad' | 'warn' | 'plain'> = { running: 'ok', failed: 'bad', starting: 'warn', not_started: 'plain' };

function Services({ services }: { services: readonly ServiceStatus[] }) {
  return (
    <Table caption="Background services" head={['Service', 'State', 'Since', 'Last error', 'Restarts']} empty="No services run here.">
      {services.map((service) => (
        <tr key={service.name}>
          <th scope="row">{service.name}</th>
          <td>
            <Badge tone={TONES[service.state]}>{service.state.replace('_', ' ')}</Badge>
            {!service.enabled && ' switched off'}
            {service.nextStart && <> (starts again <Time at={service.nextStart} />)</>}
          </td>
          <td><Time at={service.since} /></td>
          <td>{service.lastError ? <>{service.lastError.message} (<Time at={service.lastError.at} />)</> : 'none'}</td>
          <td class="number">{service.restarts}</td>
        </tr>
      ))}
    </Table>
  );
}

const REASONS: Record<Attention['reason'], string> = { overdue: 'overdue', retrying: 'retrying', failed: 'failed' };

function AttentionList({ attention }: { attention: Overview['attention'] }) {
  const now = useNow();
  const { totals, instances } = attention;
  const total = totals.overdue + totals.retrying + totals.failed;
  return (
    <section aria-labelledby="attention-heading">
      <h2 id="attention-heading">Needing a look {total > 0 && <Badge tone="bad">{total}</Badge>}</h2>
      <p class="muted">Instances past a deadline by more than 5 s (stuck), steps being retried, and failures in the last 24 hours.</p>
      <Table caption="Instances needing a look" head={['Instance', 'State', 'Why', 'Since']} empty="Nothing is failing or stuck.">
        {instances.map((entry) => (
          <tr key={`${entry.chart}/${entry.id}`}>
            <th scope="row"><a href={href('charts', entry.chart, 'instances', entry.id)}>{entry.chart}/{entry.id}</a></th>
            <td>{entry.state} <StatusBadge status={entry.status} /></td>
            <td>
              <Badge tone={entry.reason === 'failed' ? 'bad' : 'warn'}>{REASONS[entry.reason]}</Badge>{' '}
              {entry.reason === 'retrying' && `attempt ${entry.attempt ?? '?'}`}
              {entry.reason === 'overdue' && entry.deadline && `${entry.deadline.kind} was due ${relative(entry.deadline.at, now)}`}
              {entry.failure && <span><strong>{entry.failure.node}</strong>: {entry.failure.error}</span>}
            </td>
            <td><Time at={entry.since} /></td>
          </tr>
        ))}
      </Table>
    </section>
  );
}

function Controller() {
  const status = useLoad((signal) => getJson<ControllerStatus>('/backup-controller', signal), []);
  if (status.error) return <ErrorNote error={status.error} what="the backup controller" />;
  if (!status.data) return <Loading what="the backup controller" />;
  const { jobs, zones, inbox, requests, latestBackups } = status.data;
  return (
    <>
      <h3>Backup controller</h3>
      <Facts items={[
        ['Job service', <>{jobs.source} <Badge tone={jobs.circuit === 'open' ? 'bad' : 'ok'}>circuit {jobs.circuit}</Badge></>],
        ['Zones', zones.length ? zones.map((zone) => <span key={zone.name} class="item">{zone.name} <Badge tone={zone.circuit === 'open' ? 'bad' : 'ok'}>circuit {zone.circuit}</Badge></span>) : 'none'],
        ['Results waiting in the inbox', inbox],
      ]} />
      <h4>Requests by state</h4>
      <ul class="inline">
        {Object.entries(requests).map(([state, count]) => (
          <li key={state}><a href={`${href('backup-requests')}?state=${encodeURIComponent(state)}`}>{state}</a> {count}</li>
        ))}
        {Object.keys(requests).length === 0 && <li>none yet</li>}
      </ul>
      <h4>Latest backups</h4>
      <Table caption="Latest backups" head={['Data date', 'Job', 'Zone', 'Size', 'Made']} empty="No backups yet.">
        {latestBackups.map((backup) => (
          <tr key={backup.id}>
            <th scope="row"><a href={href('backup-requests', backup.requestId)}>{backup.dataDate}</a></th>
            <td>{backup.backupJobId}</td>
            <td>{backup.zone}</td>
            <td class="number">{bytes(backup.size)}</td>
            <td><Time at={backup.createdAt} /></td>
          </tr>
        ))}
      </Table>
    </>
  );
}
