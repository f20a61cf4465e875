// The handler registry: resolves the names charts use in `run:` to Handler objects.

import type { Handler, HandlerLookup } from './handler.js';

export class HandlerRegistry implements HandlerLookup {
  readonly #handlers = new Map<string, Handler>();

  register(handler: Handler): this {
    if (this.#handlers.has(handler.name)) throw new Error(`handler "${handler.name}" is already registered`);
    this.#handlers.set(handler.name, handler);
    return this;
  }

  get(name: string): Handler | undefined {
    return this.#handlers.get(name);
  }

  has(name: string): boolean {
    return this.#handlers.has(name);
  }

  /** Registered names, sorted, for listings and "did you mean" messages. */
  names(): string[] {
    return [...this.#handlers.keys()].sort();
  }
}

export function createRegistry(handlers: Iterable<Handler>): HandlerRegistry {
  const registry = new HandlerRegistry();
  for (const handler of handlers) registry.register(handler);
  return registry;
}
