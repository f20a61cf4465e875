// Keeps a step's path arguments inside the roots the operator fixed, before any handler runs.

import { dirname, resolve, sep } from 'node:path';
import { operatorPrefix } from '../chart/operatorArgs.js';
import { parseTemplate, renderValue, type TemplateScope } from '../chart/template.js';
import { FinalFailure, type Handler } from '../handlers/handler.js';

/**
 * The rendered arguments with every path argument resolved. One with a client-supplied part must lie strictly
 * inside its root: the rendered text before that part, itself when it ends in "/", else its directory.
 * Throws a FinalFailure (no retry can move the path back) naming the argument, where it resolved and the root.
 */
export function confinePaths(handler: Handler, templates: Readonly<Record<string, unknown>>, args: Record<string, unknown>, scope: TemplateScope): Record<string, unknown> {
  const confined = { ...args };
  for (const [name, kind] of Object.entries(handler.operatorOwned ?? {})) {
    const value = args[name];
    // "" means "none" to some handlers (gpg's homedir); resolving it would make it the server's directory.
    if (kind !== 'path' || typeof value !== 'string' || value === '') continue;
    const path = resolveKeepingSlash(value);
    confined[name] = path;
    const template = templates[name];
    const prefix = typeof template === 'string' ? operatorPrefix(parseTemplate(template)) : undefined;
    if (prefix === undefined) continue;
    const root = rootOf(String(prefix === '' ? '' : renderValue(prefix, scope)));
    if (root === undefined || !isInside(resolve(path), root)) {
      throw new FinalFailure(`${name} resolves to ${resolve(path)}, outside its root ${root ?? '(none)'}; refusing to run ${handler.name}`);
    }
  }
  return confined;
}

function rootOf(prefix: string): string | undefined {
  if (prefix === '') return undefined;
  return resolve(prefix.endsWith('/') ? prefix : dirname(prefix));
}

function isInside(path: string, root: string): boolean {
  return path !== root && path.startsWith(root === sep ? sep : root + sep);
}

/** A trailing "/" means "into this directory" to fs.move, so it survives resolution. */
function resolveKeepingSlash(path: string): string {
  const resolved = resolve(path);
  return path.endsWith('/') && resolved !== sep ? resolved + sep : resolved;
}
