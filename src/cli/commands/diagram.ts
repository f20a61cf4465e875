// `chartd diagram CHART`: the chart's diagram on standard output.

import { renderDiagram, type DiagramFormat } from '../../chart/diagram.js';
import { loadChartFile } from '../../chart/load.js';
import { chartLoadOptions } from '../../main.js';
import { parse, UsageError } from '../usage.js';

const FORMATS: DiagramFormat[] = ['mermaid', 'dot', 'svg'];

export async function diagramCommand(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { format: { type: 'string', default: 'mermaid' } }, true);
  if (positionals.length !== 1) throw new UsageError('diagram needs exactly one chart file');
  const format = values.format as DiagramFormat;
  if (!FORMATS.includes(format)) throw new UsageError(`--format ${values.format} is not one of ${FORMATS.join(', ')}`);
  const chart = await loadChartFile(positionals[0]!, chartLoadOptions());
  process.stdout.write(await renderDiagram(chart, format));
  return 0;
}
