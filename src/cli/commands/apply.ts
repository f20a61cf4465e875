// `chartd apply FILE --server URL`: sends a chart to a running chartd (PUT /charts/NAME), which checks it and serves it at once.

import { basename, extname } from 'node:path';
import { readSourceFile } from '../../chart/sourceFile.js';
import { isRecord, parseYaml } from '../../chart/yamlSource.js';
import { ChartInvalid, formatProblem } from '../../chart/problem.js';
import { ChartdCommand } from '../command.js';
import { refusalOf, serverClient, serverOptions, type ServerValues } from '../serverCall.js';

interface ApplyOptions extends ServerValues {
  readonly server: string;
  readonly json?: boolean;
}

export function command(): ChartdCommand {
  return new ChartdCommand('apply')
    .description(`Sends the chart in FILE to a running chartd (PUT /charts/NAME, which needs the admin
scope). The server checks it as chartd validate does, keeps it in its data directory and
serves it at once: new instances start on it, running ones stay on the version they
started on. NAME is the chart's (chart: NAME; a StateService chart's is its file name).
A chart of the same name given to the server with --chart is refused: change that file
and reload instead.

Problems are printed as chartd validate prints them, naming FILE. Exits 0 when the chart
is served (or was already, as it is), 1 when it was refused, 2 on a usage error or when
the server cannot be reached. See docs/lifecycle.md.`)
    .operand('FILE', 'the chart file')
    .including(serverOptions('the chartd to send the chart to', 'admin', true))
    .accept('--json', "the server's answer as one JSON document, with its status")
    .example(
      'CHARTD_TOKEN=… chartd apply deploy.yaml --server https://chartd.internal:5000',
      'chartd apply deploy.yaml --server https://chartd.internal:5000 --token-file /etc/chartd/admin.token --ca-file /etc/chartd/ca.pem',
    )
    .run(apply);
}

async function apply(given: ApplyOptions, [file]: string[]): Promise<number> {
  let source: string;
  try {
    source = await readSourceFile(file!, 'chart');
  } catch (error) {
    if (!(error instanceof ChartInvalid)) throw error;
    process.stdout.write(`${error.problems.map(formatProblem).join('\n')}\n`);
    return 1;
  }
  const name = chartName(source, file!);
  const client = await serverClient(given);
  let answer;
  try {
    answer = await client.call('PUT', `/charts/${encodeURIComponent(name)}`, { type: 'application/yaml', text: source });
  } catch (error) {
    process.stderr.write(`chartd apply: ${(error as Error).message}\n`);
    return 2;
  } finally {
    await client.close();
  }
  // The server names the chart by its request; the author knows it by this file.
  const inFile = (line: string): string => line.replace(`PUT /charts/${name}`, file!);
  const body = parseJson(answer.text);
  if (given.json) process.stdout.write(`${JSON.stringify({ status: answer.status, ...body }, null, 2)}\n`);
  if (answer.status === 200 || answer.status === 201) {
    const served = body as { version: string; created: boolean; unchanged: boolean; notices: string[] };
    if (!given.json) {
      for (const notice of served.notices) process.stdout.write(`${inFile(notice)}\n`);
      const what = served.unchanged ? 'already served as it is' : served.created ? 'served as a new chart' : 'served as a new version; running instances stay on theirs';
      process.stdout.write(`applied ${file}: chart ${name} version ${served.version}, ${what}\n`);
    }
    return 0;
  }
  const problems = (body as { error?: { problems?: string[] } }).error?.problems;
  if (!given.json) {
    if (problems) process.stdout.write(`${problems.map(inFile).join('\n')}\n${problems.length} problem${problems.length === 1 ? '' : 's'} found\n`);
    else process.stderr.write(`chartd apply: ${client.root} answered ${answer.status}: ${refusalOf(answer)}\n`);
  }
  return answer.status === 400 || answer.status === 409 ? 1 : 2;
}

/** The name the server will know the chart by: its chart: key, or (StateService) the file's name. */
function chartName(source: string, file: string): string {
  try {
    const name = parseYaml(source, file).value['chart'];
    if (typeof name === 'string') return name;
  } catch (error) {
    // A file that does not parse is sent all the same: the server names its problems as validate would.
    if (!(error instanceof ChartInvalid)) throw error;
  }
  return basename(file, extname(file));
}

function parseJson(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return isRecord(value) ? value : {};
  } catch {
    return {};
  }
}
