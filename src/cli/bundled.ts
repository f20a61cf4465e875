// Where the files the package ships beside dist/ are: the example charts with their tests, the editors' schemas, and
// the commented operator files `chartd init` starts a directory with.

import { fileURLToPath } from 'node:url';

export const BUNDLED_CHARTS = fileURLToPath(new URL('../../charts', import.meta.url));
export const BUNDLED_SCHEMAS = fileURLToPath(new URL('../../schema', import.meta.url));
export const BUNDLED_EXAMPLES = fileURLToPath(new URL('../../examples', import.meta.url));
