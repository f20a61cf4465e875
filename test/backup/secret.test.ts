// Tokens a service holds never print: not in logs, JSON, strings or messages.

import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Secret } from '../../src/backup/secret.js';

const TOKEN = 'a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5';

describe('Secret', () => {
  it('shows its value only when asked to reveal it', () => {
    const secret = new Secret(TOKEN, 'environment variable X');
    expect(secret.reveal()).toBe(TOKEN);
    for (const shown of [String(secret), `${secret}`, JSON.stringify({ secret }), inspect({ secret })]) expect(shown).not.toContain(TOKEN);
    expect(inspect(secret)).toBe('Secret(environment variable X)');
  });
});
