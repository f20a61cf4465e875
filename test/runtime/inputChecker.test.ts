// A client's context is checked once, at creation, and every refusal says what to change.

import { describe, expect, it } from 'vitest';
import { parseChart } from '../../src/chart/load.js';
import { chartLoadOptions } from '../../src/main.js';
import { InputChecker } from '../../src/runtime/inputChecker.js';

const chart = parseChart(`chart: copy
initial: copy
context:
  type: object
  properties:
    name: { type: string, pattern: "^[a-z]+$" }
  required: [name]
  additionalProperties: false
settings:
  type: object
  properties:
    root: { type: string, pattern: "^/" }
    host: { type: string }
  required: [root]
states:
  copy:
    run: fs.makeDir
    with: { path: "{{settings.root}}/{{name}}" }
    on_success: done
    on_failure: done
  done: { final: true }
`, 'copy.yaml', chartLoadOptions());

describe('a context', () => {
  const inputs = new InputChecker();
  const refusal = (context: unknown): string => {
    try {
      inputs.check(chart, context);
    } catch (error) {
      return (error as Error).message;
    }
    return 'accepted';
  };

  it('that names the operator\'s settings is told they are the operator\'s, and unknown keys are listed once', () => {
    expect(refusal({ name: 'sales', root: '/etc', host: 'evil', nmae: 'x', colour: 'red' })).toBe(
      "context does not match chart copy's schema: context may not set root, host: the operator binds them as the chart's settings (--values FILE), never a request; "
      + 'context has keys that are not declared: nmae, colour; declared: name');
    expect(refusal({ name: 'sales', nme: 1 })).toBe("context does not match chart copy's schema: context.nme is not declared (did you mean 'name'?); declared: name");
    expect(refusal({ name: 'Sales/..' })).toBe('context does not match chart copy\'s schema: context.name must match pattern "^[a-z]+$"');
    expect(refusal({ name: 'sales' })).toBe('accepted');
  });

  it('nested deeper than the limit is refused before anything else looks at it', () => {
    let deep: unknown = {};
    for (let level = 0; level < 40; level++) deep = { deep };
    expect(refusal({ name: 'sales', deep })).toMatch(/^context nests objects and arrays more than 32 levels deep; the limit is 32/);
  });
});
