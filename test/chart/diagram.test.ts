// Diagrams of hand-built charts: colours, markers and escaping checked through Graphviz's own parser and Mermaid's line grammar.
import { instance, type Viz } from '@viz-js/viz';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeState, renderDiagram, toDot, toMermaid } from '../../src/chart/diagram.js';
import { DEFAULT_RETRY, edgesOf, type Chart, type EdgeKind, type StateDef, type StepState } from '../../src/chart/model.js';

const GREEN = '#2e7d32';
const RED = '#c62828';
const ORANGE = '#ef6c00';
const BLUE = '#1565c0';
const YELLOW = '#fff176';
const COLOUR: Record<EdgeKind, string> = { happy: GREEN, unhappy: RED, timeout: ORANGE, event: BLUE };

let line = 0;
function step(name: string, run: string, onSuccess: string, onFailure: string, attempts = 1): StepState {
  return { name, kind: 'step', run, with: {}, onSuccess, onFailure, retry: { ...DEFAULT_RETRY, attempts }, timeoutMs: 60_000, line: ++line };
}
function final(name: string): StateDef {
  return { name, kind: 'final', line: ++line };
}
function chartOf(name: string, initial: string, states: StateDef[]): Chart {
  return { name, version: '0123456789abcdef', dialect: 'chartd', initial, states: Object.fromEntries(states.map((state) => [state.name, state])), file: `${name}.yaml`, source: '' };
}

// A small copy of the seed's backup-and-encrypt machine: each failure unwinds through a cleanup chain whose steps go on either way.
const backup = chartOf('backup-and-encrypt', 'create_intermediate_directory', [
  step('create_intermediate_directory', 'fs.makeDirIfMissing', 'backup_schema', 'remove_intermediate_directory'),
  step('backup_schema', 'pg.dumpSchema', 'encrypt', 'remove_schema_file'),
  step('encrypt', 'gpg.encrypt', 'move_backup', 'remove_encrypted_backup'),
  step('move_backup', 'fs.move', 'remove_encrypted_backup', 'remove_encrypted_backup'),
  step('remove_encrypted_backup', 'fs.removeIfExists', 'remove_schema_file', 'remove_schema_file'),
  step('remove_schema_file', 'fs.removeIfExists', 'remove_intermediate_directory', 'remove_intermediate_directory'),
  step('remove_intermediate_directory', 'fs.removeIfExists', 'report_results', 'report_results'),
  final('report_results'),
]);

const waiting = chartOf('rolling-upgrade', 'drain', [
  { name: 'drain', kind: 'gate', start: 0, count: 3, distinct: true, counterKey: 'value', next: 'window', timeout: { afterMs: 7_200_000, next: 'rollback' }, line: ++line },
  { name: 'window', kind: 'timer', atMs: Date.UTC(2026, 11, 1, 2), next: 'upgrade', line: ++line },
  step('upgrade', 'shell.noop', 'verify', 'rollback', 5),
  { name: 'verify', kind: 'event', on: { passed: 'soak', failed: 'rollback' }, timeout: { afterMs: 3_600_000, next: 'rollback' }, line: ++line },
  { name: 'soak', kind: 'timer', afterMs: 600_000, next: 'votes', line: ++line },
  { name: 'votes', kind: 'gate', start: 2, count: 5, distinct: false, counterKey: 'value', next: 'done', line: ++line },
  step('rollback', 'shell.noop', 'done', 'done'),
  final('done'),
]);

// Names that break naive output: DOT quotes and backslashes, Mermaid keywords, edge heads (o, x), entities, and a state called "start".
const odd = chartOf('odd "names"', 'start', [
  step('start', 'shell.noop', 'pg.dump-schema', 'say "hi"'),
  { name: 'pg.dump-schema', kind: 'event', on: { 'go|now': 'end', 'x-ray': 'o-ring' }, description: 'waits for "go"', line: ++line },
  { name: 'pg_dump_schema', kind: 'timer', afterMs: 1000, next: 'end', line: ++line },
  { name: 'o-ring', kind: 'gate', start: 0, count: 1, distinct: false, counterKey: 'value', next: 'pg_dump_schema', line: ++line },
  step('say "hi"', 'shell.noop', 'back\\slash\\', 'back\\slash\\'),
  { name: 'back\\slash\\', kind: 'timer', afterMs: 90_000, next: 'a<b>&c#1;', line: ++line },
  final('a<b>&c#1;'),
  final('end'),
]);

const charts = [backup, waiting, odd];
const allEdges = (chart: Chart) => Object.values(chart.states).flatMap((state) => edgesOf(state));

let viz: Viz;
beforeAll(async () => {
  viz = await instance();
});

interface DrawnNode { lines: string[]; attributes: Record<string, string>; x: number; y: number }
interface DrawnEdge { from: string; to: string; attributes: Record<string, string> }

/** Parses DOT with Graphviz itself and keys nodes by the first line Graphviz would draw, so escaping is tested end to end.
 *  (xdot text ops double their backslashes; the SVG does not.) */
function drawDot(dot: string): { graph: Record<string, unknown>; nodes: Map<string, DrawnNode>; edges: DrawnEdge[] } {
  const graph = viz.renderJSON(dot) as Record<string, unknown> & { objects: Record<string, unknown>[]; edges: Record<string, unknown>[] };
  const keys: string[] = [];
  const nodes = new Map<string, DrawnNode>();
  // Subgraphs (the rank=same groups) come first in objects and carry a nodes list; edges refer to nodes by _gvid.
  for (const object of graph.objects.filter((entry) => !('nodes' in entry))) {
    const texts = ((object._ldraw_ ?? []) as { op: string; text?: string }[]).filter((op) => op.op === 'T').map((op) => (op.text ?? '').replace(/\\\\/g, '\\'));
    const key = object.shape === 'point' ? '<entry>' : (texts[0] ?? '');
    const [x, y] = String(object.pos).split(',').map(Number);
    keys[object._gvid as number] = key;
    nodes.set(key, { lines: texts, attributes: object as Record<string, string>, x: x ?? NaN, y: y ?? NaN });
  }
  const edges = graph.edges.map((edge) => ({ from: keys[edge.tail as number] ?? '', to: keys[edge.head as number] ?? '', attributes: edge as Record<string, string> }));
  return { graph, nodes, edges };
}

describe('toDot', () => {
  it.each(charts)('draws every state once, labelled with its name and what drives it ($name)', (chart) => {
    const { nodes } = drawDot(toDot(chart));
    expect(nodes.size).toBe(Object.keys(chart.states).length + 1);
    for (const state of Object.values(chart.states)) expect(nodes.get(state.name)?.lines).toEqual([state.name, describeState(state)]);
  });

  it.each(charts)('draws every edge in its colour, both arrows where two kinds share an edge ($name)', (chart) => {
    const { edges } = drawDot(toDot(chart));
    const drawn = edges.filter((edge) => edge.from !== '<entry>').map((edge) => [edge.from, edge.to, edge.attributes.color]);
    expect(drawn).toEqual(allEdges(chart).map((edge) => [edge.from, edge.to, COLOUR[edge.kind]]));
  });

  it('describes each kind of state the way an operator reads it', () => {
    const { nodes } = drawDot(toDot(waiting));
    expect(nodes.get('drain')?.lines[1]).toBe('gate: 3 distinct');
    expect(nodes.get('votes')?.lines[1]).toBe('gate: count 3');
    expect(nodes.get('window')?.lines[1]).toBe('at 2026-12-01T02:00:00.000Z');
    expect(nodes.get('soak')?.lines[1]).toBe('after 10m');
    expect(nodes.get('upgrade')?.lines[1]).toBe('run: shell.noop (5 tries)');
    expect(nodes.get('verify')?.lines[1]).toBe('on: passed, failed');
    expect(drawDot(toDot(backup)).nodes.get('backup_schema')?.lines[1]).toBe('run: pg.dumpSchema');
  });

  it('dashes timeouts and labels timeout and event edges', () => {
    const { edges } = drawDot(toDot(waiting));
    const timeouts = edges.filter((edge) => edge.attributes.color === ORANGE);
    expect(timeouts.map((edge) => [edge.from, edge.to, edge.attributes.style, edge.attributes.label || edge.attributes.xlabel])).toEqual([
      ['drain', 'rollback', 'dashed', 'timeout 2h'],
      ['verify', 'rollback', 'dashed', 'timeout 1h'],
    ]);
    const events = edges.filter((edge) => edge.attributes.color === BLUE).map((edge) => edge.attributes.label || edge.attributes.xlabel);
    expect(events).toEqual(['passed', 'failed']);
  });

  it('marks the entry with a start point and finals with a double outline', () => {
    const { nodes, edges } = drawDot(toDot(odd));
    expect(nodes.get('<entry>')?.attributes.shape).toBe('point');
    expect(edges.filter((edge) => edge.from === '<entry>').map((edge) => edge.to)).toEqual(['start']);
    expect(nodes.get('end')?.attributes.shape).toBe('doubleoctagon');
    expect(nodes.get('a<b>&c#1;')?.attributes.shape).toBe('doubleoctagon');
    expect(nodes.get('start')?.attributes.shape).not.toBe('doubleoctagon');
  });

  it('fills the current state yellow and bold, and outlines failed states in red', () => {
    const { nodes } = drawDot(toDot(backup, { current: 'remove_schema_file', failed: ['backup_schema', 'remove_schema_file'] }));
    expect(nodes.get('remove_schema_file')?.attributes).toMatchObject({ fillcolor: YELLOW, style: 'rounded,filled,bold', color: RED });
    expect(nodes.get('backup_schema')?.attributes).toMatchObject({ color: RED, style: 'rounded' });
    expect(nodes.get('encrypt')?.attributes.fillcolor).toBeUndefined();
    expect(nodes.get('encrypt')?.attributes.color).toBeUndefined();
  });

  it('labels the graph with the chart name and version, quotes included', () => {
    expect(drawDot(toDot(odd)).graph.label).toBe('odd "names"  v0123456789abcdef');
  });

  it('keeps descriptions as tooltips, quotes intact', () => {
    expect(drawDot(toDot(odd)).nodes.get('pg.dump-schema')?.attributes.tooltip).toBe('waits for "go"');
  });

  it('lays the happy path out left to right with each cleanup under the step it undoes', () => {
    const { nodes } = drawDot(toDot(backup));
    const at = (name: string) => nodes.get(name) ?? { x: NaN, y: NaN };
    const spine = ['<entry>', 'create_intermediate_directory', 'backup_schema', 'encrypt', 'move_backup'];
    for (let index = 1; index < spine.length; index++) {
      expect(at(spine[index] ?? '').x).toBeGreaterThan(at(spine[index - 1] ?? '').x);
      expect(at(spine[index] ?? '').y).toBe(at('create_intermediate_directory').y);
    }
    const beneath: [string, string][] = [['move_backup', 'remove_encrypted_backup'], ['backup_schema', 'remove_schema_file'], ['create_intermediate_directory', 'remove_intermediate_directory'], ['<entry>', 'report_results']];
    for (const [above, below] of beneath) {
      expect(at(below).x).toBe(at(above).x);
      expect(at(below).y).toBeLessThan(at(above).y);
    }
  });

  it('keeps chart order and gives the same text every time', () => {
    const dot = toDot(waiting, { current: 'verify' });
    expect(toDot(waiting, { current: 'verify' })).toBe(dot);
    const positions = Object.keys(waiting.states).map((name) => dot.indexOf(`\n  "${name}" [`));
    expect(positions.every((position, index) => position > (positions[index - 1] ?? 0))).toBe(true);
  });
});

interface MermaidNode { id: string; open: string; lines: string[] }

const ENTITY: Record<string, string> = { quot: '"', lt: '<', gt: '>', amp: '&' };
function unMermaid(text: string): string {
  return text.replace(/#(\w+);/g, (_, code: string) => (/^\d+$/.test(code) ? String.fromCharCode(Number(code)) : (ENTITY[code] ?? `#${code};`)));
}

/** Reads Mermaid flowchart lines back: nodes by id, links in order with their linkStyle. */
function readMermaid(text: string): { nodes: Map<string, MermaidNode>; links: { from: string; to: string; arrow: string; label?: string; style: string }[]; styles: Map<string, string> } {
  const nodes = new Map<string, MermaidNode>();
  const links: { from: string; to: string; arrow: string; label?: string; style: string }[] = [];
  const styles = new Map<string, string>();
  for (const row of text.split('\n')) {
    const node = /^ {2}(\w+)(\(\(\(|\(\[|\{\{|\(\(|\()"([^"]*)"(\)\)\)|\]\)|\}\}|\)\)|\))$/.exec(row);
    if (node) nodes.set(node[1] ?? '', { id: node[1] ?? '', open: node[2] ?? '', lines: (node[3] ?? '').split('<br/>').map(unMermaid) });
    const link = /^ {2}(\w+) (-->|-\.->)(?:\|"([^"]*)"\|)? (\w+)$/.exec(row);
    if (link) links.push({ from: link[1] ?? '', arrow: link[2] ?? '', label: link[3] === undefined ? undefined : unMermaid(link[3]), to: link[4] ?? '', style: '' });
    const linkStyle = /^ {2}linkStyle ([\d,]+) (.*)$/.exec(row);
    for (const index of linkStyle?.[1]?.split(',') ?? []) {
      const target = links[Number(index)];
      if (target) target.style = linkStyle?.[2] ?? '';
    }
    const style = /^ {2}style (\w+) (.*)$/.exec(row);
    if (style) styles.set(style[1] ?? '', style[2] ?? '');
  }
  return { nodes, links, styles };
}

describe('toMermaid', () => {
  it.each(charts)('is a left-to-right flowchart titled with name and version ($name)', (chart) => {
    const text = toMermaid(chart);
    expect(text.split('\n').slice(0, 4)).toEqual(['---', `title: ${JSON.stringify(`${chart.name} v${chart.version}`)}`, '---', 'flowchart LR']);
  });

  it.each(charts)('draws every state and every edge in its colour, in chart order ($name)', (chart) => {
    const { nodes, links } = readMermaid(toMermaid(chart));
    const nameOf = (id: string) => nodes.get(id)?.lines[0] ?? id;
    const states = Object.values(chart.states);
    expect([...nodes.values()].slice(1).map((node) => node.lines)).toEqual(states.map((state) => [state.name, describeState(state)]));
    const drawn = links.slice(1).map((link) => [nameOf(link.from), nameOf(link.to), /stroke:(#\w+)/.exec(link.style)?.[1]]);
    expect(drawn).toEqual(allEdges(chart).map((edge) => [edge.from, edge.to, COLOUR[edge.kind]]));
  });

  it('uses ids Mermaid cannot mistake for keywords or arrow heads, one per state', () => {
    const { nodes } = readMermaid(toMermaid(odd));
    const ids = [...nodes.keys()].slice(1);
    expect(new Set(ids).size).toBe(Object.keys(odd.states).length);
    for (const id of ids) expect(id).toMatch(/^s_[A-Za-z0-9_]+$/);
  });

  it('escapes quotes, pipes and markup in labels', () => {
    const text = toMermaid(odd);
    expect(text).toContain('#quot;hi#quot;');
    expect(text).toContain('a#lt;b#gt;#amp;c#35;1;');
    expect(text).toContain('|"go#124;now"|');
    expect(text).not.toContain('a<b>');
  });

  it('marks the entry, finals and the dashed timeouts; labels events and both arrows of a shared edge', () => {
    const { nodes, links } = readMermaid(toMermaid(waiting));
    expect(links[0]).toMatchObject({ from: 'start', to: 's_drain' });
    expect(nodes.get('start')?.open).toBe('((');
    expect(nodes.get('s_done')?.open).toBe('(((');
    expect(links.filter((link) => link.arrow === '-.->').map((link) => [link.label, /dasharray/.test(link.style)])).toEqual([['timeout 2h', true], ['timeout 1h', true]]);
    expect(links.filter((link) => link.style.includes(BLUE)).map((link) => link.label)).toEqual(['passed', 'failed']);
    const shared = links.filter((link) => link.from === 's_rollback');
    expect(shared.map((link) => [link.to, link.label, /stroke:(#\w+)/.exec(link.style)?.[1]])).toEqual([['s_done', 'success', GREEN], ['s_done', 'failure', RED]]);
  });

  it('highlights the current state and outlines failed ones', () => {
    const { styles } = readMermaid(toMermaid(backup, { current: 'encrypt', failed: ['backup_schema'] }));
    expect(styles.get('s_encrypt')).toContain(`fill:${YELLOW}`);
    expect(styles.get('s_backup_schema')).toContain(`stroke:${RED}`);
    expect(styles.get('s_backup_schema')).not.toContain('fill');
    expect(styles.has('s_move_backup')).toBe(false);
  });

  it('gives the same text every time', () => {
    expect(toMermaid(odd, { current: 'end' })).toBe(toMermaid(odd, { current: 'end' }));
  });
});

/** Throws unless the text is well-formed XML: one root, balanced tags, quoted attributes, no stray < or &. */
function assertWellFormed(xml: string): void {
  const body = xml.replace(/^<\?xml[^>]*\?>/, '').replace(/<!DOCTYPE[^>[]*(\[[^\]]*\])?>/, '').replace(/<!--[\s\S]*?-->/g, '');
  const stack: string[] = [];
  let roots = 0;
  const badAmp = /&(?!(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);)/;
  for (const part of body.split(/(<[^>]*>)/)) {
    if (!part.startsWith('<')) {
      if (badAmp.test(part)) throw new Error(`bad & in text: ${part}`);
      if (stack.length === 0 && part.trim() !== '') throw new Error(`text outside the root: ${part}`);
      continue;
    }
    const tag = /^<(\/?)([A-Za-z_][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>$/.exec(part);
    if (!tag) throw new Error(`malformed tag: ${part}`);
    if (badAmp.test(tag[3] ?? '')) throw new Error(`bad & in attribute: ${part}`);
    if (tag[1] === '/') {
      if (stack.pop() !== tag[2]) throw new Error(`mismatched </${tag[2]}>`);
    } else if (tag[4] !== '/') {
      if (stack.length === 0) roots++;
      stack.push(tag[2] ?? '');
    } else if (stack.length === 0) roots++;
  }
  if (stack.length > 0 || roots !== 1) throw new Error(`unbalanced: open ${stack.join(' ')}, ${roots} roots`);
}

function svgTexts(svg: string): string[] {
  const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  return [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((match) =>
    (match[1] ?? '').replace(/&(#\d+|\w+);/g, (_, code: string) => (code.startsWith('#') ? String.fromCharCode(Number(code.slice(1))) : (named[code] ?? `&${code};`))),
  );
}

describe('renderDiagram', () => {
  it.each(charts)('renders well-formed SVG naming every state ($name)', async (chart) => {
    const svg = await renderDiagram(chart, 'svg', { current: chart.initial });
    assertWellFormed(svg);
    expect(svg).toMatch(/<svg[\s>]/);
    const texts = svgTexts(svg);
    for (const name of Object.keys(chart.states)) expect(texts).toContain(name);
  });

  it('colours the SVG arrows like the DOT', async () => {
    const svg = await renderDiagram(backup, 'svg');
    const strokes = [...svg.matchAll(/<path fill="none" stroke="(#[0-9a-f]{6})"/g)].map((match) => match[1]);
    expect(strokes.filter((stroke) => stroke === GREEN)).toHaveLength(allEdges(backup).filter((edge) => edge.kind === 'happy').length);
    expect(strokes.filter((stroke) => stroke === RED)).toHaveLength(allEdges(backup).filter((edge) => edge.kind === 'unhappy').length);
  });

  it('renders the same SVG every time and returns DOT and Mermaid text as they are', async () => {
    const first = await renderDiagram(waiting, 'svg', { current: 'verify', failed: ['upgrade'] });
    expect(await renderDiagram(waiting, 'svg', { current: 'verify', failed: ['upgrade'] })).toBe(first);
    expect(await renderDiagram(odd, 'dot')).toBe(toDot(odd));
    expect(await renderDiagram(odd, 'mermaid')).toBe(toMermaid(odd));
  });
});
