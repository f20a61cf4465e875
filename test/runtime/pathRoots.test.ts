// Path arguments at run time: resolved, and kept strictly inside the root the operator fixed, before a handler runs.
import { describe, expect, it } from 'vitest';
import { renderValue, type TemplateScope } from '../../src/chart/template.js';
import { moveHandler, makeDirHandler } from '../../src/handlers/fs.js';
import { encryptHandler } from '../../src/handlers/gpg.js';
import { FinalFailure, type Handler } from '../../src/handlers/handler.js';
import { confinePaths } from '../../src/runtime/pathRoots.js';

const scope = (context: Record<string, unknown>): TemplateScope => ({ context, settings: { root: '/srv/backups' }, instance: { id: 'nightly', created: '2026-11-22T06:03:02Z' } });

function confine(handler: Handler, templates: Record<string, unknown>, context: Record<string, unknown>): Record<string, unknown> {
  const values = scope(context);
  return confinePaths(handler, templates, renderValue(templates, values) as Record<string, unknown>, values);
}

describe('confinePaths', () => {
  it('resolves a path with a client part that stays inside its root', () => {
    expect(confine(makeDirHandler, { path: '{{settings.root}}/{{client}}/./work' }, { client: 'acme' })).toEqual({ path: '/srv/backups/acme/work' });
    expect(confine(makeDirHandler, { path: '{{settings.root}}/{{client}}' }, { client: 'a/../b' })).toEqual({ path: '/srv/backups/b' });
  });

  it.each([
    ['climbs out with ..', '{{settings.root}}/{{client}}', '../../etc', '/etc', '/srv/backups'],
    ['lands on the root itself', '{{settings.root}}/{{client}}', '', '/srv/backups', '/srv/backups'],
    ['lands on the root through ..', '{{settings.root}}/intermediate/{{client}}', '..', '/srv/backups', '/srv/backups/intermediate'],
    ['leaves a root that does not end in "/" (its directory is the root)', '/srv/backup-{{client}}', 'x/../../../etc', '/etc', '/srv'],
  ])('refuses a path that %s, naming the argument, where it resolved and the root', (_, template, client, resolved, root) => {
    let caught: unknown;
    try {
      confine(makeDirHandler, { path: template }, { client });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FinalFailure);
    expect((caught as Error).message).toBe(`path resolves to ${resolved}, outside its root ${root}; refusing to run fs.makeDir`);
  });

  it('keeps the "/" that tells fs.move to keep the name, and leaves "" (none) and non-path arguments alone', () => {
    expect(confine(moveHandler, { from: '{{settings.root}}/in/{{client}}', to: '{{settings.root}}/out/{{client}}/' }, { client: 'acme' }))
      .toEqual({ from: '/srv/backups/in/acme', to: '/srv/backups/out/acme/' });
    expect(confine(encryptHandler, { file: '{{settings.root}}/{{client}}', output: '/srv/x.gpg', recipient: '{{client}}', homedir: '' }, { client: 'acme' }))
      .toEqual({ file: '/srv/backups/acme', output: '/srv/x.gpg', recipient: 'acme', homedir: '' });
  });

  it('resolves a path with no client part without judging it: the chart author chose it', () => {
    expect(confine(makeDirHandler, { path: '/srv/../tmp/{{instance.created | stamp}}' }, {})).toEqual({ path: '/tmp/20261122T060302Z' });
  });
});
