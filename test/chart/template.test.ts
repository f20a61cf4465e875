// {{key}} templates: syntax, load-time checks against the context schema, rendering and filters.
import { describe, expect, it } from 'vitest';
import { checkTemplates, knownTemplateKeys, parseTemplate, presentTemplateKeys, renderValue, templateKeys, type TemplateScope } from '../../src/chart/template.js';

const known = knownTemplateKeys({
  type: 'object',
  properties: {
    client: { type: 'string' },
    replicas: { type: 'integer' },
    created: { type: 'string' },
    fy_end: { type: 'integer' },
    db: { type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer' } } },
  },
});

const scope: TemplateScope = {
  context: { client: 'acme', replicas: 3, created: '2026-11-22T06:03:02.123Z', fy_end: 6, db: { host: 'db1', port: 5432 }, tags: ['a', 'b'] },
  instance: { id: 'nightly', created: '2026-03-31T23:59:59Z' },
};

describe('parsing and keys', () => {
  it('splits text and placeholders, with or without spaces and filters', () => {
    expect(parseTemplate('a {{ client }}-{{created|stamp}} {{ created | fiscal_year : fy_end }}')).toEqual([
      'a ',
      { key: 'client', text: '{{ client }}' },
      '-',
      { key: 'created', filter: 'stamp', text: '{{created|stamp}}' },
      ' ',
      { key: 'created', filter: 'fiscal_year', arg: 'fy_end', text: '{{ created | fiscal_year : fy_end }}' },
    ]);
    expect(templateKeys('{{db.host}}:{{ created | fiscal_year:fy_end }}')).toEqual(['db.host', 'created', 'fy_end']);
    expect(templateKeys('no templates here }}')).toEqual([]);
  });

  it('collects context properties, nested ones dotted, and the built-ins', () => {
    expect([...known].sort()).toEqual(['client', 'created', 'db', 'db.host', 'db.port', 'fy_end', 'instance.created', 'instance.id', 'replicas']);
    expect([...knownTemplateKeys(undefined)]).toEqual(['instance.id', 'instance.created']);
  });
});

describe('checkTemplates', () => {
  it('accepts declared keys, built-ins and known filters anywhere in a value', () => {
    const value = { path: '/srv/{{client}}/{{instance.id}}', nested: [{ at: '{{instance.created | date}}' }, 5, true], port: '{{db.port}}' };
    expect(checkTemplates(value, known)).toEqual([]);
  });

  it('names unknown keys with a suggestion', () => {
    expect(checkTemplates({ a: ['{{clinet}}'] }, known)).toEqual([
      "unknown template key 'clinet' in {{clinet}} (did you mean 'client'?); declare it under the chart's context properties (built-ins: instance.id, instance.created)",
    ]);
    expect(checkTemplates('{{db.hots}}', known)[0]).toContain("unknown template key 'db.hots' in {{db.hots}} (did you mean 'db.host'?)");
  });

  it('refuses unknown filters, missing or stray arguments and bad syntax', () => {
    expect(checkTemplates('{{created | stmp}}', known)).toEqual([
      "unknown filter 'stmp' in {{created | stmp}} (did you mean 'stamp'?); filters: stamp, date, year, month, fiscal_year:KEY",
    ]);
    expect(checkTemplates('{{created | fiscal_year}}', known)[0]).toContain('fiscal_year needs the context key');
    expect(checkTemplates('{{created | fiscal_year:fy_ned}}', known)[0]).toContain("unknown template key 'fy_ned'");
    expect(checkTemplates('{{created | date:fy_end}}', known)).toEqual(["{{created | date:fy_end}}: filter 'date' takes no argument"]);
    expect(checkTemplates('{{client', known)).toEqual(["unclosed '{{' in '{{client'"]);
    expect(checkTemplates('{{ client | date | year }}', known)[0]).toContain('bad template');
    expect(checkTemplates('{{}}', known)[0]).toContain('bad template');
  });
});

describe('renderValue', () => {
  it('keeps the type of a lone {{key}} and stringifies inside text', () => {
    expect(renderValue('{{replicas}}', scope)).toBe(3);
    expect(renderValue('{{db}}', scope)).toEqual({ host: 'db1', port: 5432 });
    expect(renderValue('n={{replicas}} db={{db}} tags={{tags}}', scope)).toBe('n=3 db={"host":"db1","port":5432} tags=["a","b"]');
    expect(renderValue(' {{replicas}}', scope)).toBe(' 3');
  });

  it('renders deeply and leaves non-strings alone', () => {
    const value = { path: '/srv/{{client}}/{{instance.id}}', list: ['{{db.host}}:{{db.port}}', 7, null], on: true };
    expect(renderValue(value, scope)).toEqual({ path: '/srv/acme/nightly', list: ['db1:5432', 7, null], on: true });
    expect(value.path).toBe('/srv/{{client}}/{{instance.id}}');
  });

  it('applies the time filters in UTC', () => {
    expect(renderValue('{{created | stamp}}', scope)).toBe('20261122T060302Z');
    expect(renderValue('{{created | date}}', scope)).toBe('2026-11-22');
    expect(renderValue('{{created | year}}-{{created | month}}', scope)).toBe('2026-11');
    expect(renderValue('{{instance.created | month}}', scope)).toBe('03');
  });

  it('puts a time in the fiscal year that ends in the given month', () => {
    // fy_end = 6: July 2026 onwards is fiscal 2027; June 2026 and before is fiscal 2026.
    expect(renderValue('FY{{created | fiscal_year:fy_end}}', scope)).toBe('FY2027');
    expect(renderValue('FY{{instance.created | fiscal_year:fy_end}}', scope)).toBe('FY2026');
    const june30 = { ...scope, context: { ...scope.context, created: '2026-06-30T23:59:59Z' } };
    expect(renderValue('{{created | fiscal_year:fy_end}}', june30)).toBe('2026');
    const calendar = { ...scope, context: { ...scope.context, fy_end: 12 } };
    expect(renderValue('{{created | fiscal_year:fy_end}}', calendar)).toBe('2026');
  });

  it('throws a clear error for a missing value, a bad time or a bad fiscal month', () => {
    expect(() => renderValue('{{db.user}}', scope)).toThrow("template {{db.user}} needs context value 'db.user', which this instance does not have");
    expect(() => renderValue('{{client | stamp}}', scope)).toThrow("template {{client | stamp}}: 'acme' is not a time");
    const badMonth = { ...scope, context: { ...scope.context, fy_end: 13 } };
    expect(() => renderValue('{{created | fiscal_year:fy_end}}', badMonth)).toThrow("'fy_end' must be the fiscal year's last month, 1-12");
  });
});

describe('settings', () => {
  const settingsSchema = { properties: { root: { type: 'string' }, db: { properties: { port: { type: 'integer' } } } } };

  it('are known as settings.KEY, nested ones dotted, beside the context keys', () => {
    const keys = knownTemplateKeys({ properties: { client: { type: 'string' } } }, settingsSchema);
    expect([...keys].sort()).toEqual(['client', 'instance.created', 'instance.id', 'settings.db', 'settings.db.port', 'settings.root']);
    expect(checkTemplates('{{settings.rot}}', keys)).toEqual([
      "unknown template key 'settings.rot' in {{settings.rot}} (did you mean 'settings.root'?); declare it under the chart's settings properties (built-ins: instance.id, instance.created)",
    ]);
    // A context key is not a setting, and a setting is not a context key.
    expect(checkTemplates('{{root}} {{settings.client}}', keys)).toHaveLength(2);
  });

  it('render from the instance\'s settings, never from its context', () => {
    const withSettings: TemplateScope = { ...scope, context: { ...scope.context, root: '/from/the/client' }, settings: { root: '/srv', db: { port: 5433 } } };
    expect(renderValue('{{settings.root}}/{{client}}', withSettings)).toBe('/srv/acme');
    expect(renderValue('{{settings.db.port}}', withSettings)).toBe(5433);
    expect(() => renderValue('{{settings.gone}}', withSettings)).toThrow("template {{settings.gone}} needs setting 'gone', which this instance does not have");
    expect(() => renderValue('{{settings.root}}', scope)).toThrow("needs setting 'root'");
  });
});

describe('keys every instance has', () => {
  const context = {
    properties: {
      client: { type: 'string' }, note: { type: 'string' }, tier: { type: 'string', default: 'gold' },
      db: { type: 'object', properties: { host: { type: 'string' }, port: { type: 'integer' } }, required: ['host'] },
      extra: { type: 'object', properties: { flag: { type: 'boolean' } }, required: ['flag'] },
    },
    required: ['client', 'db'],
  };
  const settings = { properties: { root: { type: 'string' }, user: { type: 'string', default: 'postgres' }, gpg: { type: 'string' } }, required: ['root'] };

  it('are the required ones and those with a default, nested ones only under a parent every instance has, and the built-ins', () => {
    expect([...presentTemplateKeys(context, settings)].sort()).toEqual([
      'client', 'db', 'db.host', 'instance.created', 'instance.id', 'settings.root', 'settings.user', 'tier',
    ]);
  });

  it('are the only ones a template may use: any other is refused, naming the property and both fixes', () => {
    const known = knownTemplateKeys(context, settings);
    const present = presentTemplateKeys(context, settings);
    expect(checkTemplates('{{client}} {{tier}} {{db.host}} {{settings.user}} {{instance.id}}', known, present)).toEqual([]);
    expect(checkTemplates('{{note}} {{db.port}} {{extra.flag}} {{settings.gpg}}', known, present)).toEqual([
      "template key 'note' in {{note}} may be missing: context property 'note' is neither required nor given a default, so an instance without it could not fill the template; list it under the context's required: or give it a default:",
      "template key 'db.port' in {{db.port}} may be missing: context property 'db.port' is neither required nor given a default, so an instance without it could not fill the template; list it under the context's required: or give it a default:",
      "template key 'extra.flag' in {{extra.flag}} may be missing: context property 'extra.flag' is neither required nor given a default, so an instance without it could not fill the template; list it under the context's required: or give it a default:",
      "template key 'settings.gpg' in {{settings.gpg}} may be missing: settings property 'gpg' is neither required nor given a default, so an instance without it could not fill the template; list it under the settings' required: or give it a default:",
    ]);
  });
});
