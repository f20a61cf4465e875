// pg_dump handlers: schema or data of one database to a file, with the password kept off every command line.

import { dirname, resolve } from 'node:path';
import { FinalFailure, type StepContext } from './handler.js';
import { defineHandler, PATH_SCHEMA } from './args.js';
import { runCommand } from './exec.js';
import { assertDirectoryExists, discardPartial, partialPathFor, renameDurably, statIfExists } from './fs.js';

export interface DumpArgs {
  host: string;
  port?: number;
  user?: string;
  database: string;
  file: string;
  /** Name of the server's environment variable that holds the password (never the password itself). */
  password_env?: string;
  passfile?: string;
}

export type DumpPart = 'schema' | 'data';

// Inherited from the server, these would silently change the target or the credential a step asked for.
const INHERITED_PG_VARIABLES = ['PGPASSWORD', 'PGPASSFILE', 'PGSERVICE', 'PGSERVICEFILE', 'PGDATABASE', 'PGHOST', 'PGHOSTADDR'];

/**
 * Quotes a value for a libpq connection string. The database goes through `--dbname=dbname='…'`
 * because a bare --dbname containing "=" or a postgres:// prefix is read as a whole connection string.
 */
export function quoteConnValue(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** The pg_dump argument array; every value is glued to its option so none can pose as one. */
export function buildDumpArgs(part: DumpPart, args: DumpArgs, outputFile: string): string[] {
  const argv = [
    part === 'schema' ? '--schema-only' : '--data-only',
    '--no-password',
    `--host=${args.host}`,
    `--dbname=dbname=${quoteConnValue(args.database)}`,
    `--file=${resolve(outputFile)}`,
  ];
  if (args.port !== undefined) argv.push(`--port=${args.port}`);
  if (args.user !== undefined) argv.push(`--username=${args.user}`);
  return argv;
}

/**
 * The child's environment: what the step may pass to children, minus inherited connection settings, plus this
 * step's password, read through the operator's allow-list.
 */
export function buildDumpEnv(args: DumpArgs, ctx: Pick<StepContext, 'env' | 'childEnv'>): { env: NodeJS.ProcessEnv; secrets: string[] } {
  const env = ctx.childEnv();
  for (const name of INHERITED_PG_VARIABLES) delete env[name];
  env['PGCONNECT_TIMEOUT'] ??= '30';
  const secrets: string[] = [];
  // "" means no password, so a chart can pass an optional setting straight through.
  if (args.password_env !== undefined && args.password_env !== '') {
    const password = ctx.env(args.password_env, 'password_env');
    env['PGPASSWORD'] = password;
    secrets.push(password);
  }
  if (args.passfile !== undefined) env['PGPASSFILE'] = resolve(args.passfile);
  return { env, secrets };
}

/** Dumps to a temp file beside `file`, then renames it: `file` is either absent or a complete dump. */
export async function dumpDatabase(part: DumpPart, args: DumpArgs, ctx: StepContext): Promise<void> {
  const file = resolve(args.file);
  const existing = await statIfExists(file);
  if (existing?.isDirectory()) throw new FinalFailure(`${file} is a directory`);
  await assertDirectoryExists(dirname(file));
  const { env, secrets } = buildDumpEnv(args, ctx);
  const temp = partialPathFor(file);
  try {
    await runCommand('pg_dump', buildDumpArgs(part, args, temp), { env, secrets, signal: ctx.signal }).catch((error: Error) => {
      throw classifyDumpFailure(error);
    });
    await renameDurably(temp, file);
  } catch (error) {
    await discardPartial(temp);
    throw error;
  }
  ctx.log.info({ database: args.database, host: args.host, file }, `dumped ${part}`);
}

// Answers from the server that waiting will not change: the step goes straight to its cleanup path
// instead of retrying for minutes. Refused connections, timeouts and lock waits stay retryable.
const PERMANENT_DUMP_FAILURES = [
  /database ".*" does not exist/,
  /role ".*" does not exist/,
  /password authentication failed/,
  /no pg_hba\.conf entry/,
  /permission denied/i,
  /row-level security/,
];

/** A pg_dump failure no retry can fix becomes a FinalFailure with the same report. */
export function classifyDumpFailure(error: Error): Error {
  if (!PERMANENT_DUMP_FAILURES.some((pattern) => pattern.test(error.message))) return error;
  const failure = new FinalFailure(error.message);
  failure.cause = error;
  return failure;
}

const dumpParams = {
  type: 'object',
  properties: {
    host: { type: 'string', minLength: 1, description: 'Host name, IP address, or unix socket directory.' },
    port: { type: 'integer', minimum: 1, maximum: 65535, description: 'Port PostgreSQL listens on (default 5432).' },
    user: { type: 'string', minLength: 1, description: 'Role to connect as.' },
    database: { type: 'string', minLength: 1, description: 'Database to dump.' },
    file: { ...PATH_SCHEMA, description: 'Output SQL file; its directory must exist.' },
    password_env: { type: 'string', pattern: '^([A-Za-z_][A-Za-z0-9_]*)?$', description: 'Name of the environment variable holding the password; "" = none.' },
    passfile: { ...PATH_SCHEMA, description: 'A libpq password file (PGPASSFILE).' },
  },
  required: ['host', 'database', 'file'],
  additionalProperties: false,
} as const;

const DUMP_OPERATOR_OWNED = { host: 'target', port: 'target', user: 'target', password_env: 'env', passfile: 'path', file: 'path' } as const;

export const dumpSchemaHandler = defineHandler<DumpArgs>({
  name: 'pg.dumpSchema',
  description: 'pg_dump --schema-only of one database to a file (written whole or not at all).',
  params: dumpParams,
  operatorOwned: DUMP_OPERATOR_OWNED,
  writes: 'file',
  run: (args, ctx) => dumpDatabase('schema', args, ctx),
});

export const dumpDataHandler = defineHandler<DumpArgs>({
  name: 'pg.dumpData',
  description: 'pg_dump --data-only of one database to a file (written whole or not at all).',
  params: dumpParams,
  operatorOwned: DUMP_OPERATOR_OWNED,
  writes: 'file',
  run: (args, ctx) => dumpDatabase('data', args, ctx),
});
