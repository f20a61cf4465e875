// Safe YAML parsing for chart and configuration files: one plain document, no custom tags, no alias bombs, and a line for every YAML path.

import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { ChartInvalid } from './problem.js';

export interface YamlDocument {
  readonly value: Record<string, unknown>;
  /** 1-based line of the key (or list item) at `path`; falls back to the nearest ancestor that exists. */
  lineOf(path: string): number;
}

/** Aliases (*name) are rare in charts; a handful is plenty and caps what one can multiply. */
export const MAX_ALIASES = 50;
/** Values in the document once aliases are expanded; a real chart has a few hundred. */
export const MAX_EXPANDED_VALUES = 100_000;

/** A node as the js-yaml listener reports it: where it opened, what it became, what it holds. */
interface Node {
  kind: string | null;
  result: unknown;
  openPosition: number;
  children: Node[];
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A record without a prototype, so state and event names such as "constructor" or "__proto__" are plain keys. */
export function emptyRecord<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

export function joinPath(base: string, key: string | number): string {
  if (typeof key === 'number') return `${base}[${key}]`;
  return base === '' ? key : `${base}.${key}`;
}

/** Reads and parses an operator's YAML file; throws one Error saying why it cannot be read or parsed, e.g. "values file has problems: …". */
export async function readYamlFile(file: string, what: string): Promise<YamlDocument> {
  let source: string;
  try {
    source = await readFile(file, 'utf8');
  } catch (error) {
    throw new ChartInvalid([{ file, path: '', line: 0, message: `cannot read the ${what}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` }]);
  }
  try {
    return parseYaml(source, file);
  } catch (error) {
    if (error instanceof ChartInvalid) throw new ChartInvalid(error.problems, [], `${what} has problems`);
    throw error;
  }
}

/** Parses `source`; throws ChartInvalid (one problem, with its line) when it is not a safe single mapping. */
export function parseYaml(source: string, file: string): YamlDocument {
  const fail = (line: number, message: string): never => {
    throw new ChartInvalid([{ file, path: '', line, message }]);
  };
  const stack: Node[] = [];
  let root: Node | undefined;
  let input = source;
  const aliases = new Set<number>();
  let value: unknown;
  try {
    value = yaml.load(source, {
      filename: file,
      schema: yaml.CORE_SCHEMA, // keeps timestamps (and "yes"/"on") as strings
      listener(event, state) {
        input = state.input;
        if (event === 'open') {
          stack.push({ kind: null, result: undefined, openPosition: state.position, children: [] });
          return;
        }
        const node = stack.pop();
        if (!node) return;
        node.kind = state.kind;
        node.result = state.result;
        const start = skipBlank(input, node.openPosition);
        // A list item and its key probe open at the same place, so count alias positions, not events.
        if (input.charCodeAt(start) === 0x2a /* * */ && !aliases.has(start)) {
          aliases.add(start);
          if (aliases.size > MAX_ALIASES) {
            fail(lineStartsOf(input).lineAt(start), `more than ${MAX_ALIASES} aliases (*name); charts may use a few, not repeat structures wholesale`);
          }
        }
        const parent = stack[stack.length - 1];
        if (parent) parent.children.push(node);
        else root = node;
      },
    });
  } catch (error) {
    if (error instanceof ChartInvalid) throw error;
    if (error instanceof yaml.YAMLException) fail(...describeYamlError(error, source));
    throw error;
  }

  // A file of only comments parses to null too, but holds no scalar node.
  const empty = value === undefined || (value === null && (root as Node | undefined)?.kind !== 'scalar');
  if (empty) fail(1, 'the file is empty; a chart is a YAML mapping (key: value lines)');
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    const what = value === null ? 'null' : Array.isArray(value) ? 'a list' : `a ${typeof value}`;
    fail(1, `the top level must be a mapping (key: value lines), not ${what}`);
  }
  const expansion = measureExpansion(value);
  if (expansion) fail(1, expansion);

  const lines = new Map<string, number>([['', 1]]);
  if (root) indexLines(root, '', input, lineStartsOf(input), lines);
  return {
    value: value as Record<string, unknown>,
    lineOf(path: string): number {
      for (let current = path; ; current = parentPath(current)) {
        const line = lines.get(current);
        if (line !== undefined) return line;
        if (current === '') return 1;
      }
    },
  };
}

/** Records the line of each mapping key and list item under `node`. */
function indexLines(node: Node, path: string, input: string, index: LineIndex, lines: Map<string, number>): void {
  // A document that is one flow collection (a JSON file, say) comes as a probe node wrapping the same value.
  const only = node.children.length === 1 ? node.children[0] : undefined;
  if (only && only.result === node.result) return indexLines(only, path, input, index, lines);
  if (node.kind === 'mapping') {
    const record = node.result as Record<string, unknown>;
    const keys = Object.keys(record);
    // A backtracking parse can leave extra events; then children do not pair up with keys and we keep the ancestor's line.
    if (node.children.length !== keys.length * 2) return;
    for (let pair = 0; pair < keys.length; pair++) {
      const keyNode = node.children[pair * 2];
      const valueNode = node.children[pair * 2 + 1];
      if (!keyNode || !valueNode || String(keyNode.result) !== keys[pair]) return;
      const childPath = joinPath(path, String(keyNode.result));
      lines.set(childPath, index.lineAt(skipBlank(input, keyNode.openPosition)));
      indexLines(valueNode, childPath, input, index, lines);
    }
  } else if (node.kind === 'sequence') {
    const items = node.result as unknown[];
    if (node.children.length !== items.length) return;
    node.children.forEach((item, position) => {
      const childPath = joinPath(path, position);
      lines.set(childPath, index.lineAt(skipBlank(input, item.openPosition)));
      indexLines(item, childPath, input, index, lines);
    });
  }
}

/** Counts values as a reader of the parsed data would meet them, so alias fan-out and cycles show up. */
function measureExpansion(value: unknown): string | undefined {
  let count = 0;
  const ancestors = new Set<object>();
  const visit = (node: unknown): string | undefined => {
    if (++count > MAX_EXPANDED_VALUES) {
      return `the document expands to more than ${MAX_EXPANDED_VALUES} values through aliases (*name); refusing it as an alias bomb`;
    }
    if (typeof node !== 'object' || node === null) return undefined;
    if (ancestors.has(node)) return 'an alias (*name) refers to a mapping or list that contains it; charts cannot be recursive';
    ancestors.add(node);
    for (const child of Object.values(node)) {
      const problem = visit(child);
      if (problem) return problem;
    }
    ancestors.delete(node);
    return undefined;
  };
  return visit(value);
}

function describeYamlError(error: yaml.YAMLException, source: string): [number, string] {
  const line = error.mark ? error.mark.line + 1 : 1;
  const reason = error.reason ?? error.message;
  const tag = /^unknown tag !<(.*)>$/.exec(reason);
  if (tag) {
    const name = (tag[1] ?? '').replace(/^tag:yaml\.org,2002:/, '!!');
    return [line, `YAML tag '${name}' is not allowed; charts are plain YAML (mappings, lists, strings, numbers, booleans)`];
  }
  if (reason === 'duplicated mapping key') {
    // The mark points at the second occurrence of the key, in block and flow style alike.
    const key = /^(["']?)([^"':#,{}]+)\1\s*:/.exec(lineText(source, line).slice(error.mark?.column ?? 0))?.[2]?.trim();
    return [line, `duplicated key${key ? ` '${key}'` : ''}: each name may appear only once in a mapping`];
  }
  if (reason.startsWith('expected a single document')) {
    return [secondDocumentLine(source), 'the file holds more than one YAML document (---); a chart file holds exactly one'];
  }
  return [line, `YAML syntax: ${reason}`];
}

/** js-yaml gives no position for a second document, so find its separator line. */
function secondDocumentLine(source: string): number {
  const lines = source.split(/\r?\n/);
  let seenContent = false;
  for (let index = 0; index < lines.length; index++) {
    const text = lines[index] ?? '';
    const separator = /^(---|\.\.\.)(\s|$)/.test(text);
    if (separator && seenContent) return index + 1;
    const content = separator ? /^---\s+[^#\s]/.test(text) : text.trim() !== '' && !/^\s*#/.test(text) && !text.startsWith('%');
    if (content) seenContent = true;
  }
  return 1;
}

function parentPath(path: string): string {
  const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
  return cut <= 0 ? '' : path.slice(0, cut);
}

/** Skips spaces, line breaks and comments: where a node's own text starts. */
function skipBlank(input: string, position: number): number {
  let index = position;
  while (index < input.length) {
    const char = input[index];
    if (char === ' ' || char === '\t' || char === '\n' || char === '\r') index++;
    else if (char === '#') while (index < input.length && input[index] !== '\n') index++;
    else break;
  }
  return index;
}

interface LineIndex {
  lineAt(position: number): number;
}

function lineStartsOf(input: string): LineIndex {
  const starts = [0];
  for (let index = 0; index < input.length; index++) if (input.charCodeAt(index) === 0x0a) starts.push(index + 1);
  return {
    lineAt(position: number): number {
      let low = 0;
      let high = starts.length - 1;
      while (low < high) {
        const middle = (low + high + 1) >> 1;
        if ((starts[middle] ?? 0) <= position) low = middle;
        else high = middle - 1;
      }
      return low + 1;
    },
  };
}

function lineText(source: string, line: number): string {
  return source.split(/\r?\n/)[line - 1] ?? '';
}
