// Diagrams of charts/backup-and-encrypt.yaml from the built CLI and a real server: every node, green happy and red unhappy paths, entry, final, current state.

import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadChartFile } from '../../src/chart/load.js';
import { edgesOf, type Chart, type EdgeKind } from '../../src/chart/model.js';
import { builtinHandlers } from '../../src/handlers/builtin.js';
import { createRegistry } from '../../src/handlers/registry.js';
import { CLI } from '../support/child.js';
import { removeDir, sleep, startTestServer, tempDir, type TestServer } from '../support/server.js';
import { SEED_PATHS } from '../support/seedBackup.js';

const CHART_FILE = 'charts/backup-and-encrypt.yaml';
const GREEN = '#2e7d32';
const RED = '#c62828';
const YELLOW = '#fff176';
const COLOUR: Partial<Record<EdgeKind, string>> = { happy: GREEN, unhappy: RED };

const SEED = SEED_PATHS;
const ENTRY = 'create_intermediate_directory';
const FINAL = 'report_results';
const NODES = [...Object.keys(SEED), FINAL];

/** The seed's arrows as [from, to, colour]; a cleanup that goes on either way has one green and one red arrow. */
const SEED_ARROWS = Object.entries(SEED).flatMap(([from, [happy, unhappy]]) => [[from, happy, GREEN], [from, unhappy, RED]]).map((arrow) => arrow.join(' ')).sort();

let chart: Chart;

beforeAll(async () => {
  chart = await loadChartFile(CHART_FILE, { handlers: createRegistry(builtinHandlers()) });
});

async function diagramFromCli(format: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'diagram', CHART_FILE, '--format', format], { maxBuffer: 16 * 1024 * 1024 });
  return stdout;
}

interface Drawing {
  /** Node name -> its attributes / markup. */
  readonly nodes: Map<string, string>;
  /** "from to colour", sorted. */
  readonly arrows: string[];
  /** The state the start marker points at. */
  readonly entry: string | undefined;
}

function readDot(text: string): Drawing {
  const nodes = new Map<string, string>();
  const arrows: string[] = [];
  let entry: string | undefined;
  for (const line of text.split('\n')) {
    const edge = /^ {2}"([^"]+)" -> "([^"]+)" \[(.*)\];$/.exec(line);
    if (edge) {
      const colour = /(?:^|, )color="([^"]+)"/.exec(edge[3]!)?.[1];
      if (edge[1] === 'start') entry = edge[2];
      else arrows.push(`${edge[1]} ${edge[2]} ${colour}`);
      continue;
    }
    const node = /^ {2}"([^"]+)" \[(.*)\];$/.exec(line);
    if (node) nodes.set(node[1]!, node[2]!);
  }
  return { nodes, arrows: arrows.sort(), entry };
}

function readMermaid(text: string): Drawing {
  const nodes = new Map<string, string>();
  const links: [string, string][] = [];
  const colours = new Map<number, string>();
  const ids = new Map<string, string>();
  for (const line of text.split('\n')) {
    const edge = /^ {2}(\w+) -\.?->(?:\|"[^"]*"\|)? (\w+)$/.exec(line);
    if (edge) {
      links.push([edge[1]!, edge[2]!]);
      continue;
    }
    const style = /^ {2}linkStyle ([\d,]+) stroke:(#\w+)/.exec(line);
    if (style) {
      for (const index of style[1]!.split(',')) colours.set(Number(index), style[2]!);
      continue;
    }
    const node = /^ {2}(s_\w+)([([{].*)$/.exec(line);
    if (node) {
      const name = /^[([{]+"([^<"]+)<br\/>/.exec(node[2]!)?.[1] ?? node[1]!;
      ids.set(node[1]!, name);
      nodes.set(name, node[2]!);
    }
  }
  const named = (id: string): string => ids.get(id) ?? id;
  const arrows = links.flatMap(([from, to], index) => (from === 'start' ? [] : [`${named(from)} ${named(to)} ${colours.get(index)}`]));
  const entry = links.find(([from]) => from === 'start')?.[1];
  return { nodes, arrows: arrows.sort(), entry: entry && named(entry) };
}

function unescapeSvg(text: string): string {
  return text.replace(/&#45;/g, '-').replace(/&gt;/g, '>').replace(/&lt;/g, '<').replace(/&amp;/g, '&').replace(/&quot;/g, '"').replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)));
}

function readSvg(text: string): Drawing {
  const nodes = new Map<string, string>();
  const arrows: string[] = [];
  let entry: string | undefined;
  for (const group of text.split(/(?=<g id="(?:node|edge)\d+")/)) {
    const title = /<title>([^<]*)<\/title>/.exec(group)?.[1];
    if (title === undefined) continue;
    if (/class="node"/.test(group)) nodes.set(unescapeSvg(title), group);
    if (/class="edge"/.test(group)) {
      const [from, to] = unescapeSvg(title).split('->');
      const colour = /<path[^>]* stroke="([^"]+)"/.exec(group)?.[1];
      if (from === 'start') entry = to;
      else arrows.push(`${from} ${to} ${colour}`);
    }
  }
  return { nodes, arrows: arrows.sort(), entry };
}

/** What every drawing of the chart must show, whatever its format. */
function expectSeedMachine(drawing: Drawing): void {
  expect([...drawing.nodes.keys()].filter((name) => name !== 'start').sort()).toEqual([...NODES].sort());
  expect(drawing.arrows).toEqual(SEED_ARROWS);
  expect(drawing.entry).toBe(ENTRY);
}

describe('chartd diagram charts/backup-and-encrypt.yaml', () => {
  it('the chart is the seed machine, so the drawings can be checked against the seed', () => {
    const arrows = Object.values(chart.states).flatMap((state) => edgesOf(state).map((edge) => `${edge.from} ${edge.to} ${COLOUR[edge.kind]}`)).sort();
    expect(arrows).toEqual(SEED_ARROWS);
    expect(chart.initial).toBe(ENTRY);
  });

  it('--format dot: every node, happy arrows green, unhappy red, a start point on the entry, a double outline on the final', async () => {
    const dot = await diagramFromCli('dot');
    const drawing = readDot(dot);
    expectSeedMachine(drawing);
    expect(drawing.nodes.get('start')).toContain('shape="point"');
    expect(drawing.nodes.get(FINAL)).toContain('shape="doubleoctagon"');
    for (const name of Object.keys(SEED)) expect(drawing.nodes.get(name)).toContain('shape="box"');
    expect(dot).not.toContain(YELLOW);
  });

  it('--format mermaid: every node, the same colours, a start circle, a triple circle for the final', async () => {
    const mermaid = await diagramFromCli('mermaid');
    expect(mermaid.split('\n').slice(0, 4)).toEqual(['---', `title: "backup-and-encrypt v${chart.version}"`, '---', 'flowchart LR']);
    const drawing = readMermaid(mermaid);
    expectSeedMachine(drawing);
    expect(mermaid).toContain('  start((" "))');
    expect(drawing.nodes.get(FINAL)).toMatch(/^\(\(\(".*"\)\)\)$/);
    expect(mermaid).not.toContain(YELLOW);
  });

  it('--format svg: every node, the same colours, a filled start point and a double outline on the final', async () => {
    const svg = await diagramFromCli('svg');
    expect(svg).toMatch(/<svg [^>]*width="\d+pt" height="\d+pt"/);
    const drawing = readSvg(svg);
    expectSeedMachine(drawing);
    expect(drawing.nodes.get('start')).toMatch(/<ellipse fill="black"/);
    expect(drawing.nodes.get(FINAL)!.match(/<polygon /g)).toHaveLength(2);
    expect(svg).not.toContain(YELLOW);
  });
});

describe('diagrams from a real server serving charts/', () => {
  let server: TestServer;
  let dataDir: string;
  let storage: string;
  let silent: Server;
  const sockets = new Set<Socket>();

  beforeAll(async () => {
    dataDir = await tempDir('chartd-diagram-data-');
    storage = await tempDir('chartd-diagram-storage-');
    // A "PostgreSQL" that accepts and never answers: pg_dump waits in backup_schema while we look.
    silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const valuesFile = join(storage, 'values.yaml');
    await writeFile(valuesFile, `charts:\n  backup-and-encrypt:\n    storage_root: ${storage}\n    postgresql_host: 127.0.0.1\n    postgresql_port: ${(silent.address() as { port: number }).port}\n`);
    server = await startTestServer({ chartDir: 'charts', dataDir, valuesFile });
  });

  afterAll(async () => {
    await server?.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    await Promise.all([removeDir(dataDir), removeDir(storage)]);
  });

  async function get(path: string): Promise<{ status: number; type: string | null; body: string }> {
    const answer = await fetch(`${server.url}${path}`);
    return { status: answer.status, type: answer.headers.get('content-type'), body: await answer.text() };
  }

  async function createInstance(id: string, context: Record<string, unknown>): Promise<void> {
    const answer = await fetch(`${server.url}/charts/backup-and-encrypt/instances`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id, context }),
    });
    expect(answer.status, await answer.clone().text()).toBe(201);
  }

  async function waitForState(id: string, until: (snapshot: { state: string; status: string }) => boolean): Promise<{ state: string; status: string }> {
    for (let tries = 0; tries < 200; tries += 1) {
      const snapshot = (await (await fetch(`${server.url}/charts/backup-and-encrypt/instances/${id}`)).json()) as { state: string; status: string };
      if (until(snapshot)) return snapshot;
      await sleep(50);
    }
    throw new Error(`instance ${id} never got there`);
  }

  /** Each instance backs up its own client, so their paths under the one storage root never meet. */
  function context(client: string): Record<string, unknown> {
    return { client_name: client, database: 'sales', eoy_month: 6, key_name: 'nobody@chartd.invalid' };
  }

  it('GET /charts/backup-and-encrypt/diagram.svg and .mmd answer 200 with their content types and the whole machine', async () => {
    const [svg, mermaid, dot] = await Promise.all([
      get('/charts/backup-and-encrypt/diagram.svg'), get('/charts/backup-and-encrypt/diagram.mmd'), get('/charts/backup-and-encrypt/diagram.dot'),
    ]);
    expect([svg.status, svg.type]).toEqual([200, 'image/svg+xml']);
    expect([mermaid.status, mermaid.type]).toEqual([200, 'text/plain; charset=utf-8']);
    expect([dot.status, dot.type]).toEqual([200, 'text/vnd.graphviz; charset=utf-8']);
    expectSeedMachine(readSvg(svg.body));
    expectSeedMachine(readMermaid(mermaid.body));
    expectSeedMachine(readDot(dot.body));
    // The served drawing is the one the CLI prints.
    expect(mermaid.body).toBe(await diagramFromCli('mermaid'));
  });

  it('an unknown chart is a JSON 404, not a drawing', async () => {
    const answer = await get('/charts/no-such-chart/diagram.svg');
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toMatchObject({ error: { code: 'not_found' } });
  });

  it('an instance diagram fills the state it is in (a step still running) and nothing else', async () => {
    await createInstance('live', context('live'));
    await waitForState('live', (snapshot) => snapshot.state === 'backup_schema');
    const [svg, mermaid] = await Promise.all([get('/charts/backup-and-encrypt/instances/live/diagram.svg'), get('/charts/backup-and-encrypt/instances/live/diagram.mmd')]);
    expect([svg.status, svg.type, mermaid.status]).toEqual([200, 'image/svg+xml', 200]);
    const drawing = readSvg(svg.body);
    expectSeedMachine(drawing);
    const filled = [...drawing.nodes].filter(([, markup]) => markup.includes(`fill="${YELLOW}"`)).map(([name]) => name);
    expect(filled).toEqual(['backup_schema']);
    expect(mermaid.body.split('\n').filter((line) => line.includes(YELLOW))).toEqual([`  style s_backup_schema fill:${YELLOW},stroke:#333,stroke-width:3px`]);
  });

  it('a finished instance fills its final state and outlines in red the nodes that failed', async () => {
    // The run works in intermediate/CLIENT/DATABASE/RUN-ID: a file stands where that directory must go.
    await mkdir(join(storage, 'intermediate', 'blocked', 'sales'), { recursive: true });
    await writeFile(join(storage, 'intermediate', 'blocked', 'sales', 'blocked'), 'a file where the intermediate directory must go\n');
    await createInstance('blocked', context('blocked'));
    expect(await waitForState('blocked', (snapshot) => snapshot.status === 'done')).toMatchObject({ state: FINAL });
    const drawing = readSvg((await get('/charts/backup-and-encrypt/instances/blocked/diagram.svg')).body);
    expectSeedMachine(drawing);
    const filled = [...drawing.nodes].filter(([, markup]) => markup.includes(`fill="${YELLOW}"`)).map(([name]) => name);
    expect(filled).toEqual([FINAL]);
    const outlined = [...drawing.nodes].filter(([, markup]) => new RegExp(`<(path|polygon)[^>]* stroke="${RED}"`).test(markup)).map(([name]) => name).sort();
    expect(outlined).toEqual(['create_intermediate_directory', 'remove_intermediate_directory']);
  });
});
