// The registry and the built-in handler set: names resolve, duplicates are refused, every params schema is strict.

import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import type { Handler } from '../../src/handlers/handler.js';
import { createRegistry, HandlerRegistry } from '../../src/handlers/registry.js';

const noop = (name: string): Handler => ({ name, description: 'does nothing', params: { type: 'object', additionalProperties: false }, run: async () => {} });

describe('HandlerRegistry', () => {
  it('registers, looks up and lists handlers by name', () => {
    const registry = new HandlerRegistry().register(noop('b.second')).register(noop('a.first'));
    expect(registry.get('a.first')?.name).toBe('a.first');
    expect(registry.get('c.missing')).toBeUndefined();
    expect(registry.has('b.second')).toBe(true);
    expect(registry.has('c.missing')).toBe(false);
    expect(registry.names()).toEqual(['a.first', 'b.second']);
  });

  it('refuses a second handler with the same name', () => {
    expect(() => createRegistry([noop('fs.makeDir'), noop('fs.makeDir')])).toThrow('handler "fs.makeDir" is already registered');
  });
});

describe('builtinHandlers', () => {
  it('provides the handlers the backup chart runs, each once', () => {
    expect(createRegistry(builtinHandlers()).names()).toEqual([
      'fs.makeDir', 'fs.move', 'fs.removeDir', 'fs.removeFile', 'gpg.encrypt', 'pg.dumpData', 'pg.dumpSchema', 'tar.create',
    ]);
  });

  it.each(builtinHandlers().map((handler) => [handler.name, handler] as const))('%s has a strict, valid params schema and a description', (_name, handler) => {
    expect(handler.description.length).toBeGreaterThan(10);
    expect(handler.params['type']).toBe('object');
    expect(handler.params['additionalProperties']).toBe(false);
    const required = handler.params['required'] as string[];
    expect(required.length).toBeGreaterThan(0);
    expect(Object.keys(handler.params['properties'] as object)).toEqual(expect.arrayContaining(required));
    expect(() => new Ajv({ strict: true }).compile(handler.params)).not.toThrow();
  });
});
