// One chart: its diagram with the count of instances in each state, its instances a page at a time, and its YAML.

import { getJson, getText, pathOf, withQuery } from '../api';
import { useLoad } from '../load';
import { href, navigate } from '../route';
import type { ChartDetail, InstanceRow, Page } from '../types';
import { Diagram } from '../parts/Diagram';
import { ErrorNote, Facts, Loading, Pager, StatusBadge, Table, Time } from '../parts/common';

const PAGE_SIZE = 50;

export function ChartPage({ chart, query }: { chart: string; query: URLSearchParams }) {
  const detail = useLoad((signal) => getJson<ChartDetail>(pathOf('/charts', chart), signal), [chart]);
  const source = useLoad((signal) => getText(pathOf('/charts', chart, 'source'), signal), [chart]);
  const data = detail.data;
  if (detail.error) return <><h1>{chart}</h1><ErrorNote error={detail.error} what={`chart ${chart}`} /></>;
  if (!data) return <><h1>{chart}</h1><Loading what={`chart ${chart}`} /></>;
  return (
    <>
      <div class="heading">
        <h1>{data.name}</h1>
        <button type="button" onClick={detail.reload} disabled={detail.loading}>Refresh</button>
      </div>
      {data.description && <p class="lead">{data.description}</p>}
      <Facts items={[
        ['Version', <code>{data.version}</code>],
        ['Instances', `${data.counts.total} (${data.counts.active} active, ${data.counts.done} done, ${data.counts.cancelled} cancelled)`],
        ['Initial state', data.initial],
        data.owner ? ['Driven by', `${data.owner} (its instances are moved only by that service)`] : null,
        data.source === 'applied' ? ['Source', 'applied over HTTP (chartd apply)'] : ['File', <code>{data.file}</code>],
      ]} />
      <Diagram src={pathOf('/charts', chart, 'diagram.svg')} counts={data.counts}
        label={`Diagram of ${data.name}: green arrows are the happy path, red the unhappy one; the badge on a state counts its instances.`} />
      <Instances chart={data} query={query} />
      <section aria-labelledby="yaml-heading">
        <h2 id="yaml-heading">YAML <span class="muted">version {data.version}</span></h2>
        {source.error && <ErrorNote error={source.error} what="the chart's YAML" />}
        {source.data !== undefined && <pre class="yaml" tabIndex={0}><code>{source.data}</code></pre>}
      </section>
    </>
  );
}

function Instances({ chart, query }: { chart: ChartDetail; query: URLSearchParams }) {
  const filters = { state: query.get('state'), status: query.get('status'), order: query.get('order'), after: query.get('after') };
  const path = withQuery(pathOf('/charts', chart.name, 'instances'), { ...filters, limit: PAGE_SIZE });
  const list = useLoad((signal) => getJson<{ instances: InstanceRow[] } & Page>(path, signal), [path]);

  const change = (name: string, value: string): void => {
    const next = new URLSearchParams(query);
    if (value) next.set(name, value);
    else next.delete(name);
    next.delete('after');
    const text = next.toString();
    navigate(href('charts', chart.name) + (text ? `?${text}` : ''));
  };
  const select = (event: Event): void => {
    const target = event.target as HTMLSelectElement;
    change(target.name, target.value);
  };
  return (
    <section aria-labelledby="instances-heading">
      <h2 id="instances-heading">Instances</h2>
      <form class="filters" onSubmit={(event) => event.preventDefault()}>
        <label>State
          <select name="state" value={filters.state ?? ''} onChange={select}>
            <option value="">any</option>
            {chart.states.map((state) => <option key={state.name} value={state.name}>{state.name}</option>)}
          </select>
        </label>
        <label>Status
          <select name="status" value={filters.status ?? ''} onChange={select}>
            <option value="">any</option>
            <option value="active">active</option>
            <option value="done">done</option>
            <option value="cancelled">cancelled</option>
          </select>
        </label>
        <label>Order
          <select name="order" value={filters.order ?? ''} onChange={select}>
            <option value="">by id</option>
            <option value="changed">last change, newest first</option>
          </select>
        </label>
      </form>
      {list.error && <ErrorNote error={list.error} what="the instances" />}
      {!list.data && !list.error && <Loading what="the instances" />}
      {list.data && (
        <>
          <Table caption={`Instances of ${chart.name}`} head={['Instance', 'State', 'Status', 'Last change', 'Revision']} empty="No instances match.">
            {list.data.instances.map((row) => (
              <tr key={row.id}>
                <th scope="row"><a href={href('charts', chart.name, 'instances', row.id)}>{row.id}</a></th>
                <td>{row.state}</td>
                <td><StatusBadge status={row.status} /></td>
                <td><Time at={row.updatedAt} /></td>
                <td class="number">{row.revision}</td>
              </tr>
            ))}
          </Table>
          <Pager next={list.data.next} here={query} />
        </>
      )}
    </section>
  );
}
