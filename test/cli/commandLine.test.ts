// The command line as an operator meets it: every command explains itself with its options, defaults and an example,
// and a command line that will not do is refused with exit 2, naming every problem at once.

import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageVersion } from '../../src/version.js';
import { runChartd } from '../support/child.js';

let empty: string;
beforeAll(async () => {
  empty = await mkdtemp(join(tmpdir(), 'chartd-cli-'));
});
afterAll(async () => {
  await rm(empty, { recursive: true, force: true });
});

/** Help text with its wrapping undone, so a phrase reads the same at any width. */
function flat(text: string): string {
  return text.replace(/\s+/g, ' ');
}

describe('help', () => {
  it('chartd --help lists every command; each command\'s --help gives its usage, every option and an example', async () => {
    const top = await runChartd(['--help']);
    expect(top.code).toBe(0);
    const listed = [...top.stdout.slice(top.stdout.indexOf('Commands:')).matchAll(/^ {2}([a-z]+) /gm)].map((match) => match[1]!).filter((name) => name !== 'help');
    expect(listed).toEqual(['init', 'serve', 'validate', 'run', 'diagram', 'schema', 'test', 'simulate', 'diff', 'apply', 'charts', 'zone', 'store', 'token']);
    const commands = [...listed.filter((name) => name !== 'token' && name !== 'store').map((name) => [name]), ['store', 'copy'], ['store', 'verify'], ['token', 'new'], ['token', 'hash']];
    const helps = await Promise.all(commands.map((words) => runChartd([...words, '--help'])));
    for (const [index, words] of commands.entries()) {
      const help = helps[index]!;
      expect(help.code, words.join(' ')).toBe(0);
      expect(help.stdout).toMatch(new RegExp(`^Usage: chartd ${words.join(' ')} `));
      expect(help.stdout, words.join(' ')).toMatch(/\nExamples?:\n {2}\S/);
      expect(help.stdout).toContain('-h, --help');
    }
  });

  it('shows each default where the option is explained', async () => {
    const [serve, zone, run, diagram] = await Promise.all([['serve'], ['zone'], ['run'], ['diagram']].map((words) => runChartd([...words, '--help'])));
    expect(flat(serve!.stdout)).toMatch(/--port <N> the port to listen on \(0: any free one\) \(default: 5000\)/);
    expect(flat(serve!.stdout)).toContain('(default: ./data)');
    expect(flat(serve!.stdout)).toContain('--chart <FILE|DIR> a chart file, or a directory of them (its *.test.yaml are left out) (repeatable) (default: charts/ in the current directory)');
    expect(flat(serve!.stdout)).toContain('(choices: "fatal", "error", "warn", "info", "debug", "trace", "silent", default: info)');
    expect(flat(serve!.stdout)).toContain('(choices: "json", "pretty", default: json)');
    expect(flat(serve!.stdout)).toContain('--retain-finished <DURATION> remove finished (done or cancelled) instances once finished this long, e.g. 30d (default: kept until deleted)');
    expect(flat(serve!.stdout)).toContain('--retain-finished-rate <N> the most finished instances --retain-finished removes a second (default: 200)');
    expect(flat(serve!.stdout)).toContain('--lease <DURATION> how long a claim on a step or deadline holds unrenewed (renewed every third of it): a replica killed or cut off from the store has its work taken over one to two leases later (default: 30s)');
    for (const help of [serve!, zone!]) expect(flat(help.stdout)).toContain('--no-metrics serve no GET /metrics and count nothing for it (docs/operations.md)');
    expect(flat(zone!.stdout)).toContain('--storage <DIR> where backups are made and kept (required)');
    expect(flat(zone!.stdout)).toContain("(default: this host's name)");
    expect(flat(zone!.stdout)).toContain('(default: 1m)');
    expect(flat(run!.stdout)).toContain('default: error)');
    expect(flat(diagram!.stdout)).toContain('(choices: "mermaid", "dot", "svg", default: mermaid)');
  });

  it('prints the version; chartd help COMMAND is COMMAND --help; without a command, the help on standard error and exit 2', async () => {
    expect(await runChartd(['--version'])).toMatchObject({ code: 0, stdout: `${packageVersion()}\n` });
    const bare = await runChartd([]);
    expect(bare).toMatchObject({ code: 2, stdout: '' });
    expect(bare.stderr).toMatch(/^Usage: chartd <command> \[options\]/);
    expect(await runChartd(['help', 'serve'])).toMatchObject({ code: 0, stdout: expect.stringMatching(/^Usage: chartd serve \[options\]\n/) });
    expect(await runChartd(['help', 'nope'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^Usage: chartd <command>/) });
  });
});

describe('usage errors', () => {
  it('chartd zone with nothing names every option it needs at once', async () => {
    const answer = await runChartd(['zone']);
    expect(answer).toMatchObject({ code: 2, stdout: '' });
    expect(answer.stderr).toBe([
      'chartd: zone needs --storage DIR: where backups are made and kept',
      'chartd: zone needs --port N: the port to listen on for orders (0: any free one)',
      'chartd: zone needs --controller URL: the backup controller results go to',
      'chartd: zone needs exactly one of --token-env NAME or --token-file FILE (the token the controller presents with orders), or --auth FILE',
      'chartd: zone needs exactly one of --controller-token-env NAME or --controller-token-file FILE (the token sent with results)',
      "Run 'chartd zone --help' for usage.",
      '',
    ].join('\n'));
  });

  it('chartd apply and chartd charts with nothing name what they need; a --server that is no address is refused', async () => {
    expect(await runChartd(['apply'])).toMatchObject({ code: 2, stdout: '', stderr: [
      'chartd: apply needs --server URL: the chartd to send the chart to',
      'chartd: apply needs FILE: the chart file',
      "Run 'chartd apply --help' for usage.",
      '',
    ].join('\n') });
    expect(await runChartd(['charts', 'extra', '--server', 'chartd.internal:5000'])).toMatchObject({ code: 2, stdout: '', stderr: [
      'chartd: --server chartd.internal:5000 is not an http:// or https:// address; give the chartd server\'s address, e.g. http://HOST:PORT',
      'chartd: charts takes no operands (got: extra)',
      "Run 'chartd charts --help' for usage.",
      '',
    ].join('\n') });
  });

  it('names every unknown option (with the one meant), bad value and missing value of one command line, and starts nothing', async () => {
    const data = join(empty, 'never');
    const answer = await runChartd(['serve', '--chartt', 'charts', '--port', '70000', '--log-level', 'bogus', '--max-instances', '0', '--data', data, '--tls-cert', 'c.pem', '--host']);
    expect(answer).toMatchObject({ code: 2, stdout: '' });
    expect(answer.stderr.split('\n')).toEqual([
      "chartd: unknown option --chartt (did you mean '--chart'?)",
      'chartd: --host needs a value: --host ADDRESS: the address to listen on',
      'chartd: --port 70000 is not a port number (0-65535)',
      'chartd: --log-level bogus is not one of fatal, error, warn, info, debug, trace, silent',
      'chartd: --max-instances 0 is not a whole number of at least 1',
      'chartd: --tls-cert and --tls-key go together: --tls-key FILE (its private key) is missing',
      "Run 'chartd serve --help' for usage.",
      '',
    ]);
    await expect(readdir(data)).rejects.toThrow(/ENOENT/);
  });

  it('names a misspelt command, a missing operand and operands too many', async () => {
    expect(await runChartd(['srve'])).toMatchObject({ code: 2, stderr: "chartd: unknown command 'srve' (did you mean 'serve'?)\nRun 'chartd --help' for usage.\n" });
    expect(await runChartd(['diff'])).toMatchObject({ code: 2, stderr: expect.stringContaining('chartd: diff needs OLD: the chart file served now\nchartd: diff needs NEW: the new version of it\n') });
    expect(await runChartd(['diagram', 'a.yaml', 'b.yaml'])).toMatchObject({ code: 2, stderr: expect.stringContaining('chartd: diagram takes CHART and no more (got also: b.yaml)') });
    expect(await runChartd(['run', 'charts/traffic-light.yaml', '--json=yes'])).toMatchObject({ code: 2, stderr: expect.stringContaining('chartd: --json takes no value') });
    expect(await runChartd(['serve', '--lease', '500ms'])).toMatchObject({ code: 2, stderr: expect.stringContaining('chartd: --lease 500ms is too short: give at least 1s (claims are renewed every third of it)') });
    expect(await runChartd(['token'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^Usage: chartd token \[command\]/) });
  });
});

describe('chartd serve where there are no charts', () => {
  it('says what it looked for and what to do: chartd init, or the charts shipped with chartd', async () => {
    const answer = await runChartd(['serve', '--port', '0'], { cwd: empty });
    expect(answer.code).toBe(1);
    expect(answer.stderr).toContain(`chartd: no charts to serve: without --chart, chartd serve reads charts/ in the current directory (${join(empty, 'charts')}), and there is none.`);
    expect(answer.stderr).toContain('chartd init ');
    expect(answer.stderr).toContain(`chartd serve --chart ${resolve('charts')}\n`);
    // Refused before the store: no data directory is left behind.
    expect(await readdir(empty)).toEqual([]);
  });
});
