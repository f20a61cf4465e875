// `chartd init [DIR]`: the example charts with their tests, the editors' schemas and commented operator files to start from.

import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { BUNDLED_CHARTS, BUNDLED_EXAMPLES, BUNDLED_SCHEMAS } from '../bundled.js';
import { ChartdCommand } from '../command.js';

export function command(): ChartdCommand {
  return new ChartdCommand('init')
    .description(`Writes what a chartd directory starts from:
  charts/       the example charts and their tests (NAME.test.yaml)
  schema/       the JSON Schemas the charts' first lines point editors at
  auth.yaml     an auth file to fill with tokens (chartd token new), for --auth
  values.yaml   the operator's settings of the backup chart, for --values

Existing files are left alone, and nothing is written, unless --force is given.`)
    .operand('DIR', 'the directory to write into (made if missing)', { required: false })
    .accept('--force', 'overwrite files that exist')
    .example('chartd init /etc/chartd && cd /etc/chartd && chartd test && chartd serve --default-chart traffic-light')
    .run(init);
}

async function init(options: { force?: boolean }, [dir = '.']: string[]): Promise<number> {
  const target = resolve(dir);
  const files = [
    ...(await filesOf(BUNDLED_CHARTS, 'charts')),
    ...(await filesOf(BUNDLED_SCHEMAS, 'schema')),
    ...(await filesOf(BUNDLED_EXAMPLES, '.')),
  ];
  const existing = [];
  for (const file of files) {
    if (await stat(join(target, file.to)).then(() => true, () => false)) existing.push(file.to);
  }
  if (existing.length && !options.force) {
    process.stderr.write(`chartd init: ${target} already has ${existing.join(', ')}; nothing was written. Give --force to overwrite ${existing.length === 1 ? 'it' : 'them'}, or another DIR.\n`);
    return 1;
  }
  for (const file of files) {
    await mkdir(join(target, file.to, '..'), { recursive: true });
    await copyFile(file.from, join(target, file.to), options.force ? 0 : constants.COPYFILE_EXCL);
  }
  process.stdout.write([
    `wrote ${files.length} files in ${target}:`,
    ...files.map((file) => `  ${file.to}`),
    '',
    `Next${target === process.cwd() ? '' : `, in ${target}`}:`,
    '  chartd test                                     run the charts\' tests',
    '  chartd serve --default-chart traffic-light      serve charts/ on http://127.0.0.1:5000 (store in ./data)',
    '  chartd serve --values values.yaml --auth auth.yaml --host 0.0.0.0',
    '                                                  once values.yaml and auth.yaml hold yours',
    "Each command's options: chartd <command> --help.",
    '',
  ].join('\n'));
  return 0;
}

/** The files of a bundled directory, and where each goes under the target. */
async function filesOf(from: string, to: string): Promise<{ from: string; to: string }[]> {
  const names = (await readdir(from, { withFileTypes: true })).filter((entry) => entry.isFile()).map((entry) => entry.name).sort();
  return names.map((name) => ({ from: join(from, name), to: to === '.' ? name : `${to}/${name}` }));
}
