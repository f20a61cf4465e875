// `chartd token new NAME` makes a token and prints the lines for the auth file; `chartd token hash` hashes one from stdin.

import { TOKEN_NAME, parseAuthConfig } from '../../access/authFile.js';
import { hashOf, newToken as makeToken, tokenProblem } from '../../access/tokens.js';
import { ChartdCommand } from '../command.js';
import { UsageError } from '../usage.js';

const SCOPE_HELP = 'read, write, write:CHART-PATTERN[,CHART-PATTERN…], admin or results';

export function command(): ChartdCommand {
  const token = new ChartdCommand('token')
    .description('Makes bearer tokens for the auth file (--auth FILE) of serve and zone. See docs/security.md.')
    .helpCommand('help [command]', "show a command's help")
    .enablePositionalOptions();
  token.command('new')
    .summary('Make a token and print the lines for the auth file')
    .description(`Makes a token: prints it once on standard output, and on standard error the lines
to add under tokens: in the auth file (chartd keeps only its hash).`)
    .operand('NAME', "the token's name, as history and the access log show it")
    .accept('--scope <SCOPE>', `what the token may do: ${SCOPE_HELP}`, { repeat: true, default: ['read'] })
    .accept('--caller <PATTERN>', 'the callers (by=) the token may speak for; * matches any run of characters', { repeat: true })
    .example('chartd token new web-fleet --scope read --scope write:traffic-light --caller \'web*\' > web-fleet.token')
    .run(newToken);
  token.command('hash')
    .summary('Print the hash of a token read on standard input')
    .description('Prints the hash of a token read on standard input, for the auth file.')
    .example('chartd token hash < /etc/chartd/zone.token')
    .run(hashToken);
  return token;
}

function newToken(options: { scope: string[]; caller?: string[] }, [name]: string[]): number {
  if (!TOKEN_NAME.test(name!)) throw new UsageError(`token name '${name}': use 1-64 letters, digits, . _ - : @, starting with a letter or digit`);
  const token = makeToken();
  const entry = authEntry(name!, hashOf(token), options.scope, options.caller ?? []);
  // The lines are checked as the server will read them, so what is printed always loads.
  try {
    parseAuthConfig(`tokens:\n${entry}`, 'the printed lines');
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^the printed lines:\d+: tokens\.[^:]+: /gm, ''));
  }
  process.stdout.write(`${token}\n`);
  process.stderr.write([
    '',
    `The token for ${name} is above, on standard output; it is shown once. Keep it where only its client reads it`,
    '(e.g. a file with mode 600, then curl -K or an Authorization: Bearer header). chartd keeps only its hash.',
    '',
    'Add these lines under tokens: in the --auth file:',
    '',
    entry.trimEnd(),
    '',
    '',
  ].join('\n'));
  return 0;
}

async function hashToken(): Promise<number> {
  const token = (await readStdin()).trim();
  if (token === '') throw new UsageError('token hash reads a token on standard input, e.g. chartd token hash < /etc/chartd/zone.token');
  const problem = tokenProblem(token);
  if (problem) throw new UsageError(`that token cannot be used: ${problem}`);
  process.stdout.write(`${hashOf(token)}\n`);
  return 0;
}

/** The YAML of one token entry, indented to sit under `tokens:`. */
function authEntry(name: string, hash: string, scopes: readonly string[], callers: readonly string[]): string {
  const items = scopes.map((scope) => {
    const [kind, patterns] = splitOnce(scope, ':');
    if (patterns === undefined) return kind;
    if (kind !== 'write') throw new UsageError(`--scope ${scope}: only write takes chart patterns; scopes are ${SCOPE_HELP}`);
    return `{write: [${patterns.split(',').map((pattern) => quoted(pattern.trim())).join(', ')}]}`;
  });
  const lines = [`  ${name}:`, `    hash: '${hash}'`, `    scopes: [${items.join(', ')}]`];
  if (callers.length) lines.push(`    callers: [${callers.map(quoted).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

/** Patterns may start with *, which YAML would read as an alias unless quoted. */
function quoted(text: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._:@*-]*$/.test(text) && !text.includes(':') ? text : `'${text.replace(/'/g, "''")}'`;
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at === -1 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
