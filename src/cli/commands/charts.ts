// `chartd charts --server URL`: the charts a running chartd serves, where each comes from, and its instances by status.

import { refusalOf, serverClient, tlsFor, tokenFor, type ServerOptions } from '../serverCall.js';
import { parse, UsageError } from '../usage.js';

export const help = `Usage: chartd charts --server URL [--token-file FILE] [--ca-file FILE] [--json]

Lists the charts a running chartd serves (GET /overview, which needs the read scope;
the token comes from CHARTD_TOKEN or --token-file): name, version, where it comes
from (a --chart file, or applied over HTTP with chartd apply), and its instances by
status. Exits 0, or 2 when the server cannot be reached or refuses. Example:
  chartd charts --server http://127.0.0.1:5000
`;

interface ChartsOptions extends ServerOptions {
  readonly json: boolean;
}

interface Row {
  readonly name: string;
  readonly version: string;
  readonly source: string;
  readonly file: string;
  readonly counts: { readonly active: number; readonly done: number; readonly cancelled: number };
}

/** The command line, checked. */
function options(args: string[]): ChartsOptions {
  const { values, positionals } = parse(args, {
    server: { type: 'string' }, 'token-file': { type: 'string' }, 'ca-file': { type: 'string' }, json: { type: 'boolean', default: false },
  }, true);
  const mistakes = [
    positionals.length ? `charts takes no file (got ${positionals.join(' ')})` : '',
    values.server === undefined ? 'charts needs --server URL, the chartd to ask' : '',
  ].filter(Boolean);
  if (mistakes.length) throw new UsageError(mistakes.join('; '));
  return { server: values.server!, json: values.json, ...(values['token-file'] !== undefined && { 'token-file': values['token-file'] }), ...(values['ca-file'] !== undefined && { 'ca-file': values['ca-file'] }) };
}

export async function command(args: string[]): Promise<number> {
  const given = options(args);
  const client = await serverClient(given.server, await tokenFor(given['token-file']), tlsFor(given['ca-file']));
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
