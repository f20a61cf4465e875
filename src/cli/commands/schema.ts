// `chartd schema`: the JSON Schema editors (yaml-language-server) complete and check chart files and chart tests with.

import { editorSchema, type EditorDialect } from '../../chart/editorSchema.js';
import { handlerRegistry } from '../../main.js';
import { scenarioEditorSchema } from '../../simulation/scenarioShape.js';
import { ChartdCommand } from '../command.js';
import { UsageError } from '../usage.js';

const DIALECTS: readonly EditorDialect[] = ['both', 'chartd', 'stateservice'];

interface SchemaOptions {
  readonly dialect?: EditorDialect;
  readonly tests?: boolean;
}

export function command(): ChartdCommand {
  return new ChartdCommand('schema')
    .usage('[--dialect both|chartd|stateservice] [--tests]')
    .description(`Prints the JSON Schema of chart files (both dialects unless --dialect picks one), or
with --tests of chart test files (NAME.test.yaml), with a description and examples for
every key. Point an editor at it with a first line such as
  # yaml-language-server: $schema=../schema/chart.schema.json
The package ships both as schema/chart.schema.json and schema/chart-test.schema.json.
See docs/authoring.md.`)
    .accept('--dialect <DIALECT>', 'the chart dialect described', { choices: DIALECTS, defaultText: 'both' })
    .accept('--tests', 'describe chart test files instead')
    .check<SchemaOptions>((options) => {
      if (options.tests && options.dialect !== undefined) throw new UsageError('--tests prints the schema of chart test files, which have no dialect; drop --dialect');
    })
    .example('chartd schema > schema/chart.schema.json', 'chartd schema --tests > schema/chart-test.schema.json')
    .run(schema);
}

function schema(options: SchemaOptions): number {
  const printed = options.tests ? scenarioEditorSchema() : editorSchema(handlerRegistry(), options.dialect ?? 'both');
  process.stdout.write(`${JSON.stringify(printed, null, 2)}\n`);
  return 0;
}
