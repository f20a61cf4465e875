// `chartd validate` from the built CLI: warnings beside problems, and which of them fail it.
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI } from '../support/child.js';
import { removeDir, tempDir } from '../support/server.js';

let dir: string;

beforeAll(async () => {
  dir = await tempDir('chartd-validate-');
});
afterAll(async () => {
  await removeDir(dir);
});

async function validate(...paths: string[]): Promise<{ code: number; stdout: string }> {
  return promisify(execFile)(process.execPath, [CLI, 'validate', ...paths]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => ({ code: error.code, stdout: error.stdout }),
  );
}

const step = (retry: string, prefix = '') => `chart: nightly
initial: work
context: { properties: { client: { type: string } } }
${prefix}states:
  work:
    run: fs.makeDir
    with: { path: /srv/work }
    retry: ${retry}
    on_success: done
    on_failure: done
  done: { final: true }
`;

describe('chartd validate', () => {
  it('prints a backoff that can never take effect as a warning at its line, and still passes the chart', async () => {
    const file = join(dir, 'idle-backoff.yaml');
    await writeFile(file, step('{ attempts: 3, delay: 1m, backoff: 2 }'));
    const { code, stdout } = await validate(file);
    expect(code).toBe(0);
    expect(stdout.split('\n')).toEqual([
      `${file}:8: states.work.retry.backoff: warning: backoff 2 never takes effect: max_delay (by default the larger of 1m and delay) is 1m, which caps every wait at delay 1m; set max_delay: 2m to let the waits grow as backoff says`,
      expect.stringMatching(new RegExp(`^ok ${file}: chart nightly \\(chartd, 2 states, version [0-9a-f]{16}\\)$`)),
      '',
    ]);
  });

  it('refuses a failure prefix on a context key an instance may lack, naming it and both fixes', async () => {
    const file = join(dir, 'optional-prefix.yaml');
    await writeFile(file, step('{ attempts: 1 }', 'failure_prefix: "nightly {{client}}"\n'));
    const { code, stdout } = await validate(file);
    expect(code).toBe(1);
    expect(stdout).toBe(`${file}:4: failure_prefix: template key 'client' in {{client}} may be missing: context property 'client' is neither required nor given a default, ` +
      "so an instance without it could not fill the template; list it under the context's required: or give it a default:\n1 problem found\n");
  });

  it('finds neither in the bundled charts', async () => {
    const { code, stdout } = await validate('charts');
    expect(code).toBe(0);
    expect(stdout.split('\n').filter((line) => line !== '' && !line.startsWith('ok '))).toEqual([]);
  });
});
