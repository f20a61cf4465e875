// Operator-owned step arguments: which template parts a client supplies, and the load-time rules for them.

import type { ArgumentKind, Handler } from '../handlers/handler.js';
import type { JsonSchema } from './model.js';
import { parseTemplate, SETTINGS_PREFIX, type Placeholder, type TemplateProblem, type TemplateSegment } from './template.js';

export const KIND_MEANING: Readonly<Record<ArgumentKind, string>> = {
  path: 'a file or directory chartd reads or writes',
  target: 'where chartd connects',
  env: 'the name of a server environment variable chartd reads',
};

/**
 * Whether chartd or the operator fixes a placeholder's value: a setting, the creation time, or any filtered
 * value (filters put out digits, dashes and letters of their own). Context values and the instance id come from a client.
 */
export function isOperatorFixed(placeholder: Placeholder): boolean {
  return placeholder.filter !== undefined || placeholder.key.startsWith(SETTINGS_PREFIX) || placeholder.key === 'instance.created';
}

/** The template text before its first client-supplied placeholder; undefined when it has none. */
export function operatorPrefix(segments: readonly TemplateSegment[]): string | undefined {
  const first = segments.findIndex((segment) => typeof segment !== 'string' && !isOperatorFixed(segment));
  if (first === -1) return undefined;
  return segments.slice(0, first).map((segment) => (typeof segment === 'string' ? segment : segment.text)).join('');
}

/** Problems (paths relative to `with:`) of a step whose operator-owned arguments draw on client context without a pattern. */
export function checkOperatorArgs(handler: Handler, args: Readonly<Record<string, unknown>>, context: JsonSchema | undefined): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const [name, kind] of Object.entries(handler.operatorOwned ?? {})) {
    if (!Object.hasOwn(args, name)) continue;
    for (const { path, text } of stringsIn(args[name], `.${name}`)) {
      let segments: TemplateSegment[];
      try {
        segments = parseTemplate(text);
      } catch {
        continue; // the template check reports bad syntax
      }
      const clientParts = segments.filter((segment): segment is Placeholder => typeof segment !== 'string' && !isOperatorFixed(segment));
      for (const placeholder of clientParts) {
        if (isPatterned(placeholder.key, context)) continue;
        const fromSettings = `{{settings.${placeholder.key.split('.').pop()}}}`;
        problems.push({
          path,
          message: `${name} is operator-owned (${kind}: ${KIND_MEANING[kind]}), but ${placeholder.text} is a client's context value without a pattern; ` +
            `bind it from the operator's settings (${fromSettings}), or give context property '${placeholder.key}' type: string and a pattern: that allows only safe values`,
        });
      }
      if (kind === 'path' && clientParts.length > 0 && !startsAtOperatorRoot(segments)) {
        problems.push({
          path,
          message: `${name} holds the client-supplied ${clientParts[0]!.text}, so it must start at a root the operator fixes: ` +
            'an absolute literal such as /srv/backups/ or a {{settings.KEY}} placeholder',
        });
      }
    }
  }
  return problems;
}

/** The instance id is a name (letters, digits, . _ - : @); a context value is patterned when its property is a string with a pattern. */
function isPatterned(key: string, context: JsonSchema | undefined): boolean {
  if (key === 'instance.id') return true;
  let schema: unknown = context;
  for (const part of key.split('.')) {
    const properties = (schema as { properties?: unknown } | undefined)?.properties;
    schema = typeof properties === 'object' && properties !== null && Object.hasOwn(properties, part) ? (properties as Record<string, unknown>)[part] : undefined;
  }
  // An undeclared key is the template check's "unknown template key".
  if (typeof schema !== 'object' || schema === null) return true;
  // A pattern binds strings only: without type: string a client could send 2130706433 (127.0.0.1) as a host.
  const { type, pattern } = schema as { type?: unknown; pattern?: unknown };
  return type === 'string' && typeof pattern === 'string';
}

function startsAtOperatorRoot(segments: readonly TemplateSegment[]): boolean {
  const [first] = segments;
  if (typeof first === 'string') return first.startsWith('/');
  return first !== undefined && first.filter === undefined && first.key.startsWith(SETTINGS_PREFIX);
}

function stringsIn(value: unknown, path: string): { path: string; text: string }[] {
  if (typeof value === 'string') return [{ path, text: value }];
  if (Array.isArray(value)) return value.flatMap((item, index) => stringsIn(item, `${path}[${index}]`));
  if (typeof value === 'object' && value !== null) return Object.entries(value).flatMap(([key, item]) => stringsIn(item, `${path}.${key}`));
  return [];
}
