// Each chart's settings as the operator bound them, and the settings one instance is created with.

import type { Chart } from '../chart/model.js';
import type { Context } from '../engine/snapshot.js';
import { NotConfigured } from '../errors.js';
import { formatInputProblem, type InputChecker } from './inputChecker.js';

export class BoundSettings {
  /** `bound`: chart name -> settings, from the --values file (none for `chartd run`). */
  constructor(
    private readonly inputs: InputChecker,
    private bound: Readonly<Record<string, Context>> = {},
  ) {}

  /** A reloaded --values file's settings: instances created from now on get them; those stored keep theirs. */
  rebind(bound: Readonly<Record<string, Context>>): void {
    this.bound = bound;
  }

  /**
   * The settings an instance is stored with: the bound values with `extra` (an in-process service's, never a
   * client's) over them, checked against the chart's settings schema, defaults filled in; undefined for a chart
   * without settings. Throws NotConfigured naming what is missing or wrong and where the operator binds it.
   */
  forInstance(chart: Chart, extra: Context = {}): Context | undefined {
    if (!chart.settings && Object.keys(extra).length === 0) return undefined;
    const { settings, missing, problems } = this.inputs.settings(chart, { ...this.bound[chart.name], ...extra });
    const fix = `(chartd serve and chartd zone: --values FILE, under charts: ${chart.name}:; chartd run: --set KEY=VALUE)`;
    const wrong = problems.map((problem) => formatInputProblem('settings', problem)).join('; ');
    if (missing.length) {
      throw new NotConfigured(`chart ${chart.name} is not configured: it needs the operator's settings ${missing.join(', ')}${wrong ? `, and ${wrong}` : ''}; bind them ${fix}`);
    }
    if (wrong) throw new NotConfigured(`chart ${chart.name}'s settings are wrong: ${wrong}; fix them ${fix}`);
    return settings;
  }

  /** Required settings the bound values leave out: the chart is served, but creates no instance without them. */
  missing(chart: Chart): readonly string[] {
    if (!chart.settings) return [];
    return this.inputs.settings(chart, this.bound[chart.name] ?? {}).missing;
  }
}
