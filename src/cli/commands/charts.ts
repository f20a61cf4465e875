// `chartd charts --server URL`: the charts a running chartd serves, where each comes from, and its instances by status.

import { ChartdCommand } from '../command.js';
import { refusalOf, serverClient, serverOptions, type ServerValues } from '../serverCall.js';

interface ChartsOptions extends ServerValues {
  readonly server: string;
  readonly json?: boolean;
}

interface Row {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly file: string;
  readonly counts: { readonly active: number; readonly done: number; readonly cancelled: number };
}

export function command(): ChartdCommand {
  return new ChartdCommand('charts')
    .description(`Lists the charts a running chartd serves (GET /overview, which needs the read scope):
name, version, where it comes from (a --chart file, or applied over HTTP with chartd
apply), and its instances by status. Exits 0, or 2 when the server cannot be reached or
refuses. See docs/lifecycle.md.`)
    .including(serverOptions('the chartd to ask', 'read', true))
    .accept('--json', 'one JSON document: a list of the charts with their counts')
    .example('chartd charts --server http://127.0.0.1:5000', 'CHARTD_TOKEN=… chartd charts --server https://chartd.internal:5000 --json')
    .run(charts);
}

async function charts(given: ChartsOptions): Promise<number> {
  const client = await serverClient(given);
  let answer;
  try {
    answer = await client.call('GET', '/overview');
  } catch (error) {
    process.stderr.write(`chartd charts: ${(error as Error).message}\n`);
    return 2;
  } finally {
    await client.close();
  }
  if (answer.status !== 200) {
    process.stderr.write(`chartd charts: ${client.root} answered ${answer.status}: ${refusalOf(answer)}\n`);
    return 2;
  }
  const rows = (JSON.parse(answer.text) as { charts: Row[] }).charts;
  if (given.json) {
    process.stdout.write(`${JSON.stringify(rows.map(({ name, version, source, file, counts: { active, done, cancelled } }) => ({ name, version, source, file, active, done, cancelled })), null, 2)}\n`);
    return 0;
  }
  process.stdout.write(table([
    ['NAME', 'VERSION', 'SOURCE', 'ACTIVE', 'DONE', 'CANCELLED', 'FILE'],
    ...rows.map((row) => [row.name, row.version, row.source, String(row.counts.active), String(row.counts.done), String(row.counts.cancelled), row.source === 'file' ? row.file : '']),
  ]));
  return 0;
}

/** Columns padded to their widest cell; counts right-aligned. */
function table(rows: readonly string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const numeric = new Set([3, 4, 5]);
  return rows.map((row) => row.map((cell, column) => (numeric.has(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!))).join('  ').trimEnd()).join('\n') + '\n';
}
