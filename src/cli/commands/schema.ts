// `chartd schema`: the JSON Schema editors (yaml-language-server) complete and check chart files and chart tests with.

import { editorSchema, type EditorDialect } from '../../chart/editorSchema.js';
import { handlerRegistry } from '../../main.js';
import { scenarioEditorSchema } from '../../simulation/scenarioShape.js';
import { parse, UsageError } from '../usage.js';

export const help = `Usage: chartd schema [--dialect both|chartd|stateservice] [--tests]

Prints the JSON Schema of chart files (both dialects unless --dialect picks one), or
with --tests of chart test files (NAME.test.yaml), with a description and examples for
every key. Point an editor at it with a first line such as
  # yaml-language-server: $schema=../schema/chart.schema.json
The package ships both as schema/chart.schema.json and schema/chart-test.schema.json.
See docs/authoring.md.
`;

const DIALECTS: readonly EditorDialect[] = ['both', 'chartd', 'stateservice'];

export async function command(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, { dialect: { type: 'string', default: 'both' }, tests: { type: 'boolean', default: false } }, true);
  if (positionals.length) throw new UsageError(`schema takes no file (got ${positionals.join(' ')}); it prints the schema on standard output`);
  const dialect = values.dialect as EditorDialect;
  if (!DIALECTS.includes(dialect)) throw new UsageError(`--dialect ${values.dialect} is not one of ${DIALECTS.join(', ')}`);
  if (values.tests && args.some((arg) => arg.startsWith('--dialect'))) throw new UsageError('--tests prints the schema of chart test files, which have no dialect; drop --dialect');
  const schema = values.tests ? scenarioEditorSchema() : editorSchema(handlerRegistry(), dialect);
  process.stdout.write(`${JSON.stringify(schema, null, 2)}\n`);
  return 0;
}
