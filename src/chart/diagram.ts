// Draws a Chart as Mermaid, Graphviz DOT or SVG: green happy paths, red unhappy ones, entry, finals and the current state.
import { instance, type Viz } from '@viz-js/viz';
import { edgesOf, type Chart, type Edge, type EdgeKind, type StateDef } from './model.js';

export type DiagramFormat = 'mermaid' | 'dot' | 'svg';

export interface DiagramOptions {
  current?: string;
  /** Nodes that recorded failures, drawn with a red outline. */
  failed?: string[];
}

const COLOURS: Record<EdgeKind, string> = { happy: '#2e7d32', unhappy: '#c62828', timeout: '#ef6c00', event: '#1565c0' };
const CURRENT_FILL = '#fff176';
const FAILED_OUTLINE = COLOURS.unhappy;

/** The second line of a node: what drives the state ("run: pg.dumpSchema", "gate: 3 distinct", "after 10m"). */
export function describeState(state: StateDef): string {
  switch (state.kind) {
    case 'final':
      return 'final';
    case 'step':
      return `run: ${state.run}${state.retry.attempts > 1 ? ` (${state.retry.attempts} tries)` : ''}`;
    case 'gate':
      return `gate: ${edgesOf(state)[0]?.label ?? state.count}`;
    case 'timer':
      return edgesOf(state)[0]?.label ?? 'timer';
    case 'event':
      return `on: ${Object.keys(state.on).join(', ')}`;
  }
}

/** Every edge, in chart order, so the same chart always yields the same text. */
function chartEdges(chart: Chart): Edge[] {
  return Object.values(chart.states).flatMap((state) => edgesOf(state));
}

// Event and timeout edges need their label to be told apart; happy/unhappy are told by colour alone.
function needsLabel(edge: Edge): boolean {
  return edge.kind === 'event' || edge.kind === 'timeout';
}

/** Edges whose source and target are shared with an edge of another kind (a cleanup going on either way). */
function sharedPairs(edges: Edge[]): Set<string> {
  const kinds = new Map<string, Set<EdgeKind>>();
  for (const edge of edges) {
    const key = JSON.stringify([edge.from, edge.to]);
    kinds.set(key, (kinds.get(key) ?? new Set()).add(edge.kind));
  }
  return new Set([...kinds].filter(([, set]) => set.size > 1).map(([key]) => key));
}

/**
 * Pins states to columns so the happy path reads straight across and each cleanup sits under the step it undoes.
 * The spine is the happy path from the entry (columns 0..n), stopping where it reaches a state that an earlier
 * spine state fails into. A state off the spine takes the column of the last spine state leading to it; states
 * reached only from those continue in the direction the off-spine lane already runs (leftwards for an unwind).
 */
function pinColumns(chart: Chart, edges: Edge[]): { columns: Map<string, number>; spine: Set<string> } {
  const columns = new Map<string, number>();
  const failedInto = new Set<string>();
  let name: string | undefined = chart.initial;
  while (name !== undefined && !columns.has(name) && !failedInto.has(name)) {
    const state: StateDef | undefined = chart.states[name];
    if (!state) break;
    columns.set(name, columns.size);
    const out = edgesOf(state);
    for (const edge of out) if (edge.kind === 'unhappy' || edge.kind === 'timeout') failedInto.add(edge.to);
    name = (out.find((edge) => edge.kind === 'happy') ?? out.find((edge) => edge.kind === 'event'))?.to;
  }
  const spine = new Set(columns.keys());
  const lastColumn = spine.size - 1;
  const column = (state: string): number => columns.get(state) ?? 0;
  const offSpine = Object.keys(chart.states).filter((state) => !spine.has(state));

  for (const state of offSpine) {
    const from = edges.filter((edge) => edge.to === state && spine.has(edge.from)).map((edge) => column(edge.from));
    if (from.length > 0) columns.set(state, Math.max(...from));
  }
  let drift = 0;
  for (const edge of edges) {
    if (spine.has(edge.from) || spine.has(edge.to) || !columns.has(edge.from) || !columns.has(edge.to)) continue;
    drift += Math.sign(column(edge.to) - column(edge.from));
  }
  const direction = drift < 0 ? -1 : 1;
  for (let changed = true; changed; ) {
    changed = false;
    for (const state of offSpine) {
      if (columns.has(state)) continue;
      const from = edges.filter((edge) => edge.to === state && columns.has(edge.from)).map((edge) => column(edge.from));
      if (from.length === 0) continue;
      const at = direction < 0 ? Math.min(...from) - 1 : Math.max(...from) + 1;
      // Column -1 holds the start marker; beyond the spine there is nothing to line up with, so Graphviz decides.
      if (at < -1 || at > lastColumn) continue;
      columns.set(state, at);
      changed = true;
    }
  }
  return { columns, spine };
}

/** A name that is not a state, for the start marker. */
function freeName(chart: Chart, wanted: string): string {
  let name = wanted;
  while (name in chart.states) name = `_${name}`;
  return name;
}

// DOT strings: only \" is an escape to the parser, but labels give \N, \G, \l… meaning, so backslashes are doubled too.
function dotString(text: string): string {
  return `"${text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n')}"`;
}

function dotAttributes(attributes: Record<string, string | number | undefined>): string {
  const parts = Object.entries(attributes).filter(([, value]) => value !== undefined);
  return parts.map(([key, value]) => `${key}=${typeof value === 'number' ? value : dotString(String(value))}`).join(', ');
}

function dotNode(state: StateDef, options: DiagramOptions, onSpine: boolean): string {
  const current = options.current === state.name;
  const failed = options.failed?.includes(state.name) ?? false;
  const styles = [state.kind === 'final' ? undefined : 'rounded', current ? 'filled' : undefined, current ? 'bold' : undefined];
  const style = styles.filter((entry) => entry !== undefined).join(',');
  return `  ${dotString(state.name)} [${dotAttributes({
    label: `${state.name}\n${describeState(state)}`,
    shape: state.kind === 'final' ? 'doubleoctagon' : state.kind === 'step' ? 'box' : state.kind === 'gate' ? 'hexagon' : 'box',
    style: style === '' ? undefined : style,
    fillcolor: current ? CURRENT_FILL : undefined,
    color: failed ? FAILED_OUTLINE : state.kind === 'event' || state.kind === 'timer' ? COLOURS.event : undefined,
    penwidth: current || failed ? 2.5 : undefined,
    group: onSpine ? 'spine' : undefined,
    tooltip: state.description,
  })}];`;
}

export function toDot(chart: Chart, options: DiagramOptions = {}): string {
  const edges = chartEdges(chart);
  const { columns, spine } = pinColumns(chart, edges);
  const start = freeName(chart, 'start');
  const lines = [
    `digraph ${dotString(chart.name)} {`,
    `  graph [${dotAttributes({ label: `${chart.name}  v${chart.version}`, labelloc: 't', fontsize: 16, fontname: 'Helvetica', rankdir: 'LR', nodesep: 0.4, ranksep: 0.45 })}];`,
    '  node [fontname="Helvetica", fontsize=11, margin="0.2,0.08"];',
    '  edge [fontname="Helvetica", fontsize=10, arrowsize=0.7, penwidth=1.4];',
    `  ${dotString(start)} [${dotAttributes({ shape: 'point', width: 0.16, label: '', tooltip: 'entry' })}];`,
  ];
  for (const state of Object.values(chart.states)) lines.push(dotNode(state, options, spine.has(state.name)));
  lines.push(`  ${dotString(start)} -> ${dotString(chart.initial)} [weight=10];`);
  for (const edge of edges) {
    const pinned = columns.has(edge.from) && columns.has(edge.to);
    const alongSpine = spine.has(edge.from) && spine.has(edge.to) && columns.get(edge.to) === (columns.get(edge.from) ?? 0) + 1;
    const flat = pinned && columns.get(edge.from) === columns.get(edge.to);
    const attributes = dotAttributes({
      color: COLOURS[edge.kind],
      fontcolor: needsLabel(edge) ? COLOURS[edge.kind] : undefined,
      // Graphviz stacks the labels of edges within one column on top of each other; xlabels are placed clear of the rest.
      [flat ? 'xlabel' : 'label']: needsLabel(edge) ? edge.label : undefined,
      style: edge.kind === 'timeout' ? 'dashed' : undefined,
      // Pinned states already have their column; letting their other edges pull on ranks would undo the layout.
      constraint: pinned && !alongSpine ? 'false' : undefined,
      weight: alongSpine ? 10 : undefined,
      tooltip: `${edge.from} -> ${edge.to}: ${edge.label}`,
    });
    lines.push(`  ${dotString(edge.from)} -> ${dotString(edge.to)} [${attributes}];`);
  }
  const byColumn = new Map<number, string[]>([[-1, [start]]]);
  for (const [state, column] of columns) byColumn.set(column, [...(byColumn.get(column) ?? []), state]);
  for (const [, states] of [...byColumn].sort(([left], [right]) => left - right)) {
    if (states.length > 1) lines.push(`  { rank=same; ${states.map(dotString).join('; ')}; }`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

// Mermaid ids allow only plain characters; keywords (end, style…) and a leading o/x (edge heads) are avoided by the s_ prefix.
function mermaidIds(chart: Chart): Map<string, string> {
  const ids = new Map<string, string>();
  const taken = new Set<string>();
  for (const name of Object.keys(chart.states)) {
    const base = `s_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
    let id = base;
    for (let suffix = 2; taken.has(id); suffix++) id = `${base}_${suffix}`;
    taken.add(id);
    ids.set(name, id);
  }
  return ids;
}

const MERMAID_ENTITIES: Record<string, string> = { '"': '#quot;', '#': '#35;', '<': '#lt;', '>': '#gt;', '&': '#amp;', '`': '#96;', '|': '#124;' };

/** Text for inside a quoted Mermaid label: entity codes for the characters Mermaid would otherwise interpret. */
function mermaidText(text: string): string {
  return text.replace(/["#<>&`|]/g, (char) => MERMAID_ENTITIES[char] ?? char).replace(/\s*\r?\n\s*/g, ' ');
}

function mermaidShape(state: StateDef, label: string): string {
  switch (state.kind) {
    case 'final':
      return `((("${label}")))`;
    case 'gate':
      return `{{"${label}"}}`;
    case 'timer':
    case 'event':
      return `(["${label}"])`;
    case 'step':
      return `("${label}")`;
  }
}

export function toMermaid(chart: Chart, options: DiagramOptions = {}): string {
  const ids = mermaidIds(chart);
  const id = (name: string): string => ids.get(name) ?? `s_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const edges = chartEdges(chart);
  const shared = sharedPairs(edges);
  const lines = ['---', `title: ${JSON.stringify(`${chart.name} v${chart.version}`)}`, '---', 'flowchart LR', '  start((" "))'];
  for (const state of Object.values(chart.states)) {
    lines.push(`  ${id(state.name)}${mermaidShape(state, `${mermaidText(state.name)}<br/>${mermaidText(describeState(state))}`)}`);
  }
  lines.push(`  start --> ${id(chart.initial)}`);
  const linksOf = new Map<EdgeKind, number[]>();
  edges.forEach((edge, index) => {
    // Two edges between the same states overlap unless labelled; a label gives each its own route.
    const labelled = needsLabel(edge) || shared.has(JSON.stringify([edge.from, edge.to]));
    const arrow = edge.kind === 'timeout' ? '-.->' : '-->';
    lines.push(`  ${id(edge.from)} ${arrow}${labelled ? `|"${mermaidText(edge.label)}"|` : ''} ${id(edge.to)}`);
    linksOf.set(edge.kind, [...(linksOf.get(edge.kind) ?? []), index + 1]);
  });
  lines.push('  style start fill:#333,stroke:#333');
  lines.push('  linkStyle 0 stroke:#333,stroke-width:1.5px');
  for (const kind of ['happy', 'unhappy', 'timeout', 'event'] as const) {
    const links = linksOf.get(kind);
    const dashed = kind === 'timeout' ? ',stroke-dasharray:6 4' : '';
    if (links) lines.push(`  linkStyle ${links.join(',')} stroke:${COLOURS[kind]},stroke-width:2px,color:${COLOURS[kind]}${dashed}`);
  }
  for (const name of Object.keys(chart.states)) {
    const current = options.current === name;
    const failed = options.failed?.includes(name) ?? false;
    if (!current && !failed) continue;
    const fill = current ? `fill:${CURRENT_FILL},` : '';
    lines.push(`  style ${id(name)} ${fill}stroke:${failed ? FAILED_OUTLINE : '#333'},stroke-width:3px`);
  }
  return `${lines.join('\n')}\n`;
}

// One Graphviz WebAssembly instance serves every render: creating it compiles the module, which takes far longer than a layout.
let vizInstance: Promise<Viz> | undefined;

export async function renderDiagram(chart: Chart, format: DiagramFormat, options: DiagramOptions = {}): Promise<string> {
  switch (format) {
    case 'mermaid':
      return toMermaid(chart, options);
    case 'dot':
      return toDot(chart, options);
    case 'svg': {
      // A failed start is not cached, so the next render tries again.
      vizInstance ??= instance().catch((error: unknown) => {
        vizInstance = undefined;
        throw error;
      });
      const viz = await vizInstance;
      return viz.renderString(toDot(chart, options), { format: 'svg' });
    }
  }
}
