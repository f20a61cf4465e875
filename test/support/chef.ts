// Just enough Chef to converge the recipe in docs/recipes.md: assignments, `directory`, `%w(...).each`, `execute`
// with command/only_if/not_if. Anything else is refused, so the docs cannot drift past what the test checks.

import { mkdir } from 'node:fs/promises';
import { runScript, type ScriptResult } from './recipes.js';

export type ChefResource =
  | { readonly type: 'directory'; readonly path: string }
  | { readonly type: 'execute'; readonly name: string; readonly command: string; readonly onlyIf?: string; readonly notIf?: string };

/** Values of the Ruby expressions the recipe reads from outside, e.g. `node['hostname']`. */
export type ChefInputs = Readonly<Record<string, string>>;

export function compileChefRecipe(source: string, inputs: ChefInputs): ChefResource[] {
  const lines = source.split('\n').map((line, index) => ({ text: stripComment(line).trim(), number: index + 1 })).filter((line) => line.text);
  return compileBlock(lines, new Map(), inputs);
}

interface Line {
  readonly text: string;
  readonly number: number;
}

function compileBlock(lines: readonly Line[], outer: ReadonlyMap<string, string>, inputs: ChefInputs): ChefResource[] {
  const scope = new Map(outer);
  const resources: ChefResource[] = [];
  for (let index = 0; index < lines.length; index += 1) {
    const line = lines[index]!;
    const fail = (why: string): never => {
      throw new Error(`chef recipe line ${line.number}: ${why}: ${line.text}`);
    };
    let match: RegExpExecArray | null;
    if ((match = /^(\w+)\s*=\s*(.+)$/.exec(line.text))) {
      scope.set(match[1]!, evaluate(match[2]!, scope, inputs, fail));
    } else if ((match = /^directory\s+(.+?)(\s+do)?$/.exec(line.text))) {
      const body = match[2] ? blockBody(lines, index, fail) : [];
      for (const property of body) if (!/^recursive\s+true$/.test(property.text)) fail(`unsupported directory property ${property.text}`);
      resources.push({ type: 'directory', path: evaluate(match[1]!, scope, inputs, fail) });
      index += match[2] ? body.length + 1 : 0;
    } else if ((match = /^%w\(([^)]*)\)\.each\s+do\s+\|(\w+)\|$/.exec(line.text))) {
      const body = blockBody(lines, index, fail);
      for (const word of match[1]!.trim().split(/\s+/)) {
        resources.push(...compileBlock(body, new Map([...scope, [match[2]!, word]]), inputs));
      }
      index += body.length + 1;
    } else if ((match = /^execute\s+(.+?)\s+do$/.exec(line.text))) {
      const body = blockBody(lines, index, fail);
      const properties: Record<string, string> = {};
      for (const property of body) {
        const parts = /^(command|only_if|not_if)\s+(.+)$/.exec(property.text);
        if (!parts) fail(`unsupported execute property in "${property.text}"`);
        properties[parts![1]!] = evaluate(parts![2]!, scope, inputs, fail);
      }
      if (!properties['command']) fail('execute without a command');
      resources.push({
        type: 'execute', name: evaluate(match[1]!, scope, inputs, fail), command: properties['command']!,
        ...(properties['only_if'] ? { onlyIf: properties['only_if'] } : {}),
        ...(properties['not_if'] ? { notIf: properties['not_if'] } : {}),
      });
      index += body.length + 1;
    } else {
      fail('unsupported Ruby');
    }
  }
  return resources;
}

/** The lines between `lines[start]` (which opens a block with `do`) and its matching `end`. */
function blockBody(lines: readonly Line[], start: number, fail: (why: string) => never): Line[] {
  let depth = 1;
  for (let index = start + 1; index < lines.length; index += 1) {
    const text = lines[index]!.text;
    if (/\bdo(\s+\|\w+\|)?$/.test(text)) depth += 1;
    else if (text === 'end') depth -= 1;
    if (depth === 0) return lines.slice(start + 1, index);
  }
  return fail('block without an end');
}

/** A string literal (with #{} interpolation when double-quoted), a variable, or one of the inputs. */
function evaluate(expression: string, scope: ReadonlyMap<string, string>, inputs: ChefInputs, fail: (why: string) => never): string {
  const text = expression.trim();
  if (scope.has(text)) return scope.get(text)!;
  if (Object.hasOwn(inputs, text)) return inputs[text]!;
  if (/^'[^'\\]*'$/.test(text)) return text.slice(1, -1);
  if (/^"(?:[^"\\]|\\.)*"$/.test(text)) {
    return text.slice(1, -1)
      .replace(/#\{([^}]+)\}/g, (_, inner: string) => evaluate(inner, scope, inputs, fail))
      .replace(/\\(.)/g, '$1');
  }
  return fail(`cannot evaluate ${text} (give it as an input?)`);
}

/** Drops a `# comment`: a # outside string literals that does not open an interpolation. */
function stripComment(line: string): string {
  let quote: string | undefined;
  for (let index = 0; index < line.length; index += 1) {
    const char = line[index]!;
    if (quote) {
      if (char === '\\') index += 1;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '#' && line[index + 1] !== '{') {
      return line.slice(0, index);
    }
  }
  return line;
}

export interface ConvergeReport {
  /** Names of the execute resources whose command ran (and succeeded). */
  readonly ran: string[];
  /** The resource whose command failed; Chef stops the run there. */
  readonly failed?: { readonly name: string; readonly result: ScriptResult };
}

/** One chef-client run: guards and commands through `sh -c`, as Chef runs string guards and commands. */
export async function converge(resources: readonly ChefResource[], env: NodeJS.ProcessEnv): Promise<ConvergeReport> {
  const ran: string[] = [];
  for (const resource of resources) {
    if (resource.type === 'directory') {
      await mkdir(resource.path, { recursive: true });
      continue;
    }
    if (resource.onlyIf && (await sh(resource.onlyIf, env)).code !== 0) continue;
    if (resource.notIf && (await sh(resource.notIf, env)).code === 0) continue;
    const result = await sh(resource.command, env);
    if (result.code !== 0) return { ran, failed: { name: resource.name, result } };
    ran.push(resource.name);
  }
  return { ran };
}

export function sh(command: string, env: NodeJS.ProcessEnv): Promise<ScriptResult> {
  return runScript(command, env, 'sh').done;
}
