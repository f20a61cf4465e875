// `chartd simulate` from the built CLI: the path a bundled chart takes for the actions given, in order, on a simulated clock.
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { CLI } from '../support/child.js';

function chartd(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'simulate', ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number(error.code) : 0, stdout, stderr });
    });
  });
}

const BACKUP = ['charts/backup-and-encrypt.yaml', '--start', '2026-11-22T06:03:02Z', '--set', 'client_name=acme', '--set', 'database=sales',
  '--set', 'eoy_month=6', '--set', 'key_name=backups@example.com', '--set', 'storage_root=/srv/backups', '--set', 'postgresql_host=db.internal'];

describe('chartd simulate', () => {
  it('prints the path, transition by transition, for actions in the order given', async () => {
    const { code, stdout } = await chartd('charts/rolling-upgrade.yaml', '--set', 'release=1.2', '--start', '2026-12-01T02:00:00Z',
      '--advance', '3s', '--put', 'drain', '--by', 'web1', '--put', 'upgrade', '--by', 'web2', '--event', 'failed', '--by', 'web3', '--advance', '30m');
    expect(stdout).toBe([
      'chart rolling-upgrade (charts/rolling-upgrade.yaml, version ' + /version (\w+)\)/.exec(stdout)![1] + '), instance default, created 2026-12-01T02:00:00.000Z',
      '+0s       create         -> window',
      '+0s       > advance 3s',
      '+3s       timer         window -> drain',
      '+3s       > put drain by web1: 200; the instance is in drain (a gate, 1 of 3 counted)',
      '+3s       > put upgrade by web2: 406 (upgrade is not the current state)',
      '+3s       > event failed by web3: 200',
      '+3s       event:failed  drain -> rollback by web3',
      '+3s       > advance 30m',
      '+30m3s    timeout       rollback -> needs_attention  (timed out: nothing moved rollback before its deadline)',
      'ends in needs_attention (final)',
      'Failure: rolling-upgrade 1.2 rollback: timed out: nothing moved rollback before its deadline',
      '',
    ].join('\n'));
    expect(code).toBe(0);
  });

  it('runs every step at once with its arguments resolved, and fails the one --fail names on each attempt', async () => {
    const { stdout } = await chartd(...BACKUP, '--fail', 'compress=tar: No space left on device');
    expect(stdout).toContain('+0s         run         fs.makeDir path=/srv/backups/intermediate/acme/sales/default/20261122T060302Z: succeeds\n');
    expect(stdout).toContain('+0s         run         tar.create directory=/srv/backups/intermediate/acme/sales/default/20261122T060302Z file=/srv/backups/intermediate/acme/sales/default/20261122T060302Z.tar.gz compression=gzip: fails: tar: No space left on device\n');
    expect(stdout).toContain('+1m         run         tar.create directory=/srv/backups/intermediate/acme/sales/default/20261122T060302Z file=/srv/backups/intermediate/acme/sales/default/20261122T060302Z.tar.gz compression=gzip (attempt 2): fails: tar: No space left on device\n');
    expect(stdout).toContain('+1m       failure       compress -> remove_tarball  (tar: No space left on device)\n');
    expect(stdout).toContain('ends in report_results (final)\nFailure: acme db.internal sales compress: tar: No space left on device\n');
  });

  it('gives the transcript as JSON', async () => {
    const { stdout } = await chartd(...BACKUP, '--json');
    const transcript = JSON.parse(stdout) as { entries: { type: string; to?: string }[]; end: { state: string; failures: unknown[] } };
    expect(transcript.entries.filter((entry) => entry.type === 'move').map((entry) => entry.to)).toEqual([
      'create_intermediate_directory', 'create_pg_dump_directory', 'backup_schema', 'backup_data', 'compress', 'encrypt', 'create_storage_directory',
      'move_backup', 'remove_encrypted_backup', 'remove_tarball', 'remove_data_file', 'remove_schema_file', 'remove_pg_dump_directory',
      'remove_intermediate_directory', 'report_results',
    ]);
    expect(transcript.end).toMatchObject({ state: 'report_results', failures: [] });
  });

  it('stops where the chart waits for the outside, and says what it waits for', async () => {
    const { stdout } = await chartd('charts/backup-request.yaml', '--set', 'apiVersion=v1', '--set', 'backupJobId=job-7', '--set', 'dataDate=2026-11-21', '--set', 'transport=http');
    expect(stdout).toContain('stops: the instance is in Sent (waiting for succeeded or failed)\n');
  });

  it('prints its own help', async () => {
    expect(await chartd('--help')).toMatchObject({ code: 0, stdout: expect.stringContaining('Usage: chartd simulate CHART [--set key=value]...') });
  });

  it('refuses what it cannot do, saying why', async () => {
    expect(await chartd('charts/rolling-upgrade.yaml', '--put', 'drian')).toMatchObject({ code: 2, stderr: expect.stringContaining('--put drian: chart rolling-upgrade has no such state') });
    expect(await chartd('charts/rolling-upgrade.yaml', '--by', 'web1')).toMatchObject({ code: 2, stderr: expect.stringContaining('--by web1 names the caller of the --put or --event just before it, and there is none') });
    expect(await chartd('charts/rolling-upgrade.yaml', '--fail', 'drain')).toMatchObject({ code: 2, stderr: expect.stringContaining('--fail drain: drain is not a step (run:), so it cannot fail') });
    expect(await chartd('charts/rolling-upgrade.yaml', '--advance', '10')).toMatchObject({ code: 2, stderr: expect.stringContaining("--advance: duration '10' has no unit") });
    expect(await chartd('test/fixtures/charts/broken/unknown-target.yaml')).toMatchObject({
      code: 1, stderr: expect.stringContaining("test/fixtures/charts/broken/unknown-target.yaml:6: states.drain.next: unknown target state 'upgrad'"),
    });
    expect(await chartd('charts/backup-and-encrypt.yaml', '--set', 'client_name=acme')).toMatchObject({
      code: 1, stderr: expect.stringContaining('context does not match chart backup-and-encrypt\'s schema'),
    });
  });
});
