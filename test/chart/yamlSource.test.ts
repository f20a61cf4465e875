// Safe YAML parsing: a line for every path, whatever the YAML style, and the refusals that keep the loader safe.
import { describe, expect, it } from 'vitest';
import { ChartInvalid } from '../../src/chart/problem.js';
import { parseYaml } from '../../src/chart/yamlSource.js';

function refusal(source: string): string {
  try {
    parseYaml(source, 'doc.yaml');
  } catch (error) {
    if (error instanceof ChartInvalid) return error.message;
    throw error;
  }
  throw new Error('expected ChartInvalid');
}

describe('lineOf', () => {
  const source = [
    '# leading comment', //                         1
    'chart: demo', //                               2
    'states:', //                                   3
    '  drain:', //                                  4
    '    # a comment before the key', //            5
    '    gate: { count: 3,', //                     6
    '      distinct: true }', //                    7
    '    next: up', //                              8
    '  list:', //                                   9
    '    - first', //                               10
    '    - name: second', //                        11
    '      when: [1, {deep: 2}]', //                12
    '    -', //                                     13
    '      name: third', //                         14
    '  "quoted key": |', //                         15
    '    block', //                                 16
    '    text', //                                  17
    '  anchored: &shared', //                       18
    '    k: v', //                                  19
    '  aliased: *shared', //                        20
    '  at: 2026-12-01T02:00:00', //                 21
  ].join('\n');
  const doc = parseYaml(source, 'doc.yaml');

  it.each([
    ['', 1],
    ['chart', 2],
    ['states', 3],
    ['states.drain', 4],
    ['states.drain.gate', 6],
    ['states.drain.gate.count', 6],
    ['states.drain.gate.distinct', 7],
    ['states.drain.next', 8],
    ['states.list[0]', 10],
    ['states.list[1]', 11],
    ['states.list[1].when', 12],
    ['states.list[1].when[1].deep', 12],
    ['states.list[2].name', 14],
    ['states.quoted key', 15],
    ['states.anchored.k', 19],
    ['states.aliased', 20],
  ])('%s is on line %i', (path, line) => {
    expect(doc.lineOf(path)).toBe(line);
  });

  it('falls back to the nearest ancestor for paths that do not exist', () => {
    expect(doc.lineOf('states.drain.timeout.after')).toBe(4);
    expect(doc.lineOf('states.aliased.k')).toBe(20);
    expect(doc.lineOf('states.list[7]')).toBe(9);
    expect(doc.lineOf('nowhere')).toBe(1);
  });

  it('finds lines in a document that is one flow mapping, such as JSON', () => {
    const json = parseYaml('{\n "kind": "x",\n "tree": {\n  "le": [1,\n   2]\n }\n}\n', 'model.json');
    expect(['kind', 'tree', 'tree.le', 'tree.le[1]'].map((path) => json.lineOf(path))).toEqual([2, 3, 4, 5]);
  });

  it('keeps timestamps as strings (CORE_SCHEMA)', () => {
    expect((doc.value['states'] as Record<string, unknown>)['at']).toBe('2026-12-01T02:00:00');
  });

  it('counts lines the same with CRLF endings', () => {
    const crlf = parseYaml('a: 1\r\nb:\r\n  c: 2\r\n', 'crlf.yaml');
    expect(crlf.lineOf('b.c')).toBe(3);
  });
});

describe('refusals', () => {
  it('refuses empty files and non-mapping top levels', () => {
    expect(refusal('')).toBe('doc.yaml:1: the file is empty; a chart is a YAML mapping (key: value lines)');
    expect(refusal('# only a comment\n')).toContain('the file is empty');
    expect(refusal('just a string\n')).toContain('the top level must be a mapping (key: value lines), not a string');
    expect(refusal('- a\n')).toContain('not a list');
    expect(refusal('~\n')).toContain('not null');
  });

  it('refuses custom and unsupported tags with their line', () => {
    expect(refusal('a: 1\nb: !include other.yaml\n')).toBe("doc.yaml:2: YAML tag '!include' is not allowed; charts are plain YAML (mappings, lists, strings, numbers, booleans)");
    expect(refusal('a: !!binary aGk=\n')).toContain("YAML tag '!!binary' is not allowed");
  });

  it('accepts the standard core tags', () => {
    expect(parseYaml('a: !!str 1\nb: !!int "2"\n', 'doc.yaml').value).toEqual({ a: '1', b: 2 });
  });

  it('refuses a second document, pointing at its separator', () => {
    expect(refusal('---\na: 1\n---\nb: 2\n')).toBe('doc.yaml:3: the file holds more than one YAML document (---); a chart file holds exactly one');
    expect(parseYaml('---\na: 1\n...\n', 'doc.yaml').value).toEqual({ a: 1 });
  });

  it('refuses recursive aliases and alias bombs, but allows a few aliases', () => {
    expect(refusal('a: &x { b: *x }\n')).toContain('an alias (*name) refers to a mapping or list that contains it');
    const levels = ['a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]'];
    for (const [index, name] of ['b', 'c', 'd', 'e'].entries()) {
      const previous = String.fromCharCode(97 + index);
      levels.push(`${name}: &${name} [${Array(10).fill(`*${previous}`).join(', ')}]`);
    }
    expect(refusal(`${levels.join('\n')}\n`)).toContain('more than 100000 values');
    expect(parseYaml('base: &base { a: 1 }\none: *base\ntwo: *base\n', 'doc.yaml').value).toEqual({ base: { a: 1 }, one: { a: 1 }, two: { a: 1 } });
  });

  it('reports duplicated keys and syntax errors at their line', () => {
    expect(refusal('a:\n  b: 1\n  b: 2\n')).toBe("doc.yaml:3: duplicated key 'b': each name may appear only once in a mapping");
    expect(refusal('x: {b: 1, a: 2, a: 3}\n')).toBe("doc.yaml:1: duplicated key 'a': each name may appear only once in a mapping");
    expect(refusal('x:\n  "a": 1\n  "a": 2\n')).toContain("doc.yaml:3: duplicated key 'a'");
    expect(refusal('a: 1\nb: "unclosed\n')).toMatch(/^doc\.yaml:\d+: YAML syntax: /);
  });
});
