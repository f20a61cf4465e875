// `chartd diagram CHART`: the chart's diagram on standard output.

import { renderDiagram, type DiagramFormat } from '../../chart/diagram.js';
import { loadChartFile } from '../../chart/load.js';
import { chartLoadOptions } from '../../main.js';
import { ChartdCommand } from '../command.js';

const FORMATS: readonly DiagramFormat[] = ['mermaid', 'dot', 'svg'];

export function command(): ChartdCommand {
  return new ChartdCommand('diagram')
    .description(`Prints a chart's diagram: happy paths green, unhappy paths red. Mermaid for Markdown,
Graphviz DOT, or SVG (drawn in-process; no system package needed).`)
    .operand('CHART', 'the chart file')
    .accept('--format <FORMAT>', 'the diagram language', { choices: FORMATS, default: 'mermaid' })
    .example('chartd diagram charts/backup-and-encrypt.yaml --format svg > backup.svg')
    .run(diagram);
}

async function diagram(options: { format: DiagramFormat }, [file]: string[]): Promise<number> {
  const chart = await loadChartFile(file!, chartLoadOptions());
  process.stdout.write(await renderDiagram(chart, options.format));
  return 0;
}
