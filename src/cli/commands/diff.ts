// `chartd diff OLD NEW`: what a new version of a chart changes, and which stored instances sit in states it changes.

import { resolve } from 'node:path';
import { diffCharts, strands, type ChartDiff, type Detail, type StateChange } from '../../chart/diff.js';
import { loadChartFile } from '../../chart/load.js';
import type { Chart } from '../../chart/model.js';
import { readSecret } from '../../backup/secret.js';
import { chartLoadOptions } from '../../main.js';
import { instancesFromData, instancesFromServer, type StoredInstance } from '../storedInstances.js';
import { ChartdCommand } from '../command.js';
import { httpUrl, UsageError } from '../usage.js';

interface DiffOptions {
  readonly server?: string;
  readonly data?: string;
  readonly tokenFile?: string;
  readonly caFile?: string;
  readonly json?: boolean;
}

/** Ids shown per state in the text report; --json lists them all. */
const IDS_SHOWN = 10;

export function command(): ChartdCommand {
  return new ChartdCommand('diff')
    .usage('OLD NEW [--server URL [--token-file FILE] [--ca-file FILE] | --data DIR] [--json]')
    .description(`Lists what NEW changes in the chart OLD: states added, removed and renamed (same
definition under a new name), and for each state its driver, targets, gate, timer,
step (handler, arguments, retries, timeout), events and timeout.

With --server URL (a running chartd; the token comes from CHARTD_TOKEN or --token-file,
and needs the read scope) or --data DIR (a data directory, read without its lock and
without writing, so its server may keep running), also lists the stored active
instances that sit in states NEW changes or removes, with counts and ids. Instances
stay on the version they started on; they finish by OLD's rules even after NEW is
served, while new instances start on NEW.

Exits 0 when the charts behave the same, 1 when they differ, 2 when one cannot be
read. See docs/authoring.md.`)
    .operand('OLD', 'the chart file served now')
    .operand('NEW', 'the new version of it')
    .accept('--server <URL>', 'a running chartd whose stored instances to check', { read: httpUrl('--server', "the chartd server's address") })
    .accept('--token-file <FILE>', 'a file holding the read token for --server (else CHARTD_TOKEN)')
    .accept('--ca-file <FILE>', "the CA that signed --server's certificate")
    .accept('--data <DIR>', 'a data directory whose stored instances to check')
    .accept('--json', 'one JSON document')
    .check<DiffOptions>((options) => {
      if (options.server !== undefined && options.data !== undefined) throw new UsageError('--server and --data both say where instances are stored; give one');
      if (options.server === undefined && (options.tokenFile !== undefined || options.caFile !== undefined)) throw new UsageError('--token-file and --ca-file go with --server URL');
    })
    .example('chartd diff charts/rolling-upgrade.yaml rolling-upgrade-v2.yaml --server http://127.0.0.1:5000')
    .run(diff);
}

async function diff(options: DiffOptions, [oldFile, newFile]: string[]): Promise<number> {
  let read: Awaited<ReturnType<typeof readBoth>>;
  try {
    read = await readBoth(oldFile!, newFile!, options);
  } catch (error) {
    process.stderr.write(`chartd diff: ${(error as Error).message}\n`);
    return 2;
  }
  const { before, after, stored } = read;
  const changes = diffCharts(before, after);
  const sitting = stored ? stranded(changes, stored.instances, before.version) : undefined;
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ old: describe(before), new: describe(after), ...changes, ...(stored && { instances: { from: stored.from, active: stored.instances.length, stranded: sitting } }) }, null, 2)}\n`);
  } else {
    process.stdout.write(textReport(before, after, changes, stored, sitting ?? []));
  }
  return changesBehaviour(changes) ? 1 : 0;
}

/** Both charts, and the stored instances of OLD's chart when --server or --data says where they are. */
async function readBoth(oldFile: string, newFile: string, values: DiffOptions) {
  const options = chartLoadOptions();
  const [before, after] = await Promise.all([loadChartFile(oldFile, options), loadChartFile(newFile, options)]);
  let stored: { readonly from: string; readonly instances: StoredInstance[] } | undefined;
  if (values.server !== undefined) {
    const token = await tokenFor(values.tokenFile);
    const tls = values.caFile !== undefined ? { ca: resolve(values.caFile) } : {};
    stored = { from: values.server, instances: await instancesFromServer(values.server, before.name, token, tls) };
  } else if (values.data !== undefined) {
    stored = { from: values.data, instances: await instancesFromData(values.data, before.name) };
  }
  return { before, after, stored };
}

interface Stranded {
  readonly state: string;
  readonly change: StateChange['kind'];
  readonly count: number;
  readonly ids: readonly string[];
  /** How many of them run on OLD's version (the others on earlier ones). */
  readonly onOld: number;
}

function stranded(diff: ChartDiff, instances: readonly StoredInstance[], oldVersion: string): Stranded[] {
  return diff.states.filter(strands).flatMap((change) => {
    const here = instances.filter((instance) => instance.state === change.state);
    const onOld = here.filter((instance) => instance.version === oldVersion).length;
    return here.length ? [{ state: change.state, change: change.kind, count: here.length, ids: here.map((instance) => instance.id), onOld }] : [];
  });
}

function changesBehaviour(diff: ChartDiff): boolean {
  return diff.chart.some((detail) => detail.behaviour) || diff.states.some(strands) || diff.states.some((change) => change.kind === 'added');
}

function describe(chart: Chart): { file: string; name: string; version: string } {
  return { file: chart.file, name: chart.name, version: chart.version };
}

async function tokenFor(file: string | undefined): Promise<string | undefined> {
  if (file !== undefined) return (await readSecret({ file: resolve(file) }, '--token-file')).reveal();
  // An empty variable is taken as none, as shells leave it after `export CHARTD_TOKEN=`.
  if (process.env['CHARTD_TOKEN']) return (await readSecret({ env: 'CHARTD_TOKEN' }, 'CHARTD_TOKEN')).reveal();
  return undefined;
}

function textReport(before: Chart, after: Chart, diff: ChartDiff, stored: { from: string; instances: StoredInstance[] } | undefined, sitting: readonly Stranded[]): string {
  const lines = [`chart ${before.name}: ${before.file} (version ${before.version}) -> ${after.file} (version ${after.version})`];
  if (!diff.chart.length && !diff.states.length) lines.push('  no changes');
  for (const detail of diff.chart) lines.push(`  ~ ${detailText(detail)}`);
  for (const change of diff.states) lines.push(...changeText(change));
  if (stored) {
    lines.push(`stored instances (${stored.from}): ${stored.instances.length} active`);
    for (const group of sitting) {
      const more = group.ids.length > IDS_SHOWN ? `, … ${group.ids.length - IDS_SHOWN} more` : '';
      const versions = group.onOld === group.count ? '' : ` [${group.count - group.onOld} on versions older than OLD]`;
      lines.push(`  ${group.count} in ${group.state} (${group.change})${versions}: ${group.ids.slice(0, IDS_SHOWN).join(', ')}${more}`);
    }
    const count = sitting.reduce((sum, group) => sum + group.count, 0);
    lines.push(count
      ? `  ${count} active instance${count === 1 ? ' sits' : 's sit'} in states NEW changes or removes; they stay on the version they started on and finish by its rules, while new instances start on NEW`
      : '  none sits in a state NEW changes or removes');
  }
  return `${lines.join('\n')}\n`;
}

function changeText(change: StateChange): string[] {
  switch (change.kind) {
    case 'added':
      return [`  + ${change.state}: added (${change.driver})`];
    case 'removed':
      return [`  - ${change.state}: removed (${change.driver})`];
    case 'renamed':
      return [`  > ${change.state} -> ${change.to}: renamed`, ...change.details.map((detail) => `      ${detailText(detail)}`)];
    case 'changed':
      return [`  ~ ${change.state}:`, ...change.details.map((detail) => `      ${detailText(detail)}`)];
  }
}

function detailText(detail: Detail): string {
  const note = detail.behaviour ? '' : detail.key === 'description' ? '' : ' (follows the rename)';
  return `${detail.key}: ${detail.before ?? '(none)'} -> ${detail.after ?? '(none)'}${note}`;
}
