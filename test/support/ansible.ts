// Just enough Ansible to run the playbook in docs/recipes.md against a real chartd: `uri` through fetch, `command`
// through execFile, `fail`, block/rescue, register, until/retries/delay, failed_when, when, the uri module's
// module_defaults. Anything else is refused.

import { spawn } from 'node:child_process';
import yaml from 'js-yaml';
import { parseDuration } from '../../src/chart/duration.js';
import { evaluateExpression, renderTemplate } from './jinja.js';

export interface PlaybookOptions {
  readonly hosts: readonly string[];
  /** `-e name=value`: wins over the play's vars. */
  readonly extraVars: Readonly<Record<string, unknown>>;
  /** Environment of `command` tasks on each host. */
  readonly env: (host: string) => NodeJS.ProcessEnv;
  /** Multiplies `delay:` and a long-poll's `wait=`, so a 60 s long-poll takes 1.2 s at 1/50. Timeouts stay real. */
  readonly timeScale: number;
}

export interface TaskRun {
  readonly name: string;
  readonly attempts: number;
  readonly failed: boolean;
  readonly result: Result;
}

export interface HostOutcome {
  readonly ok: boolean;
  /** The task that failed the host, and its message. */
  readonly failed?: { readonly task: string; readonly message: string };
  readonly runs: TaskRun[];
}

type Result = Record<string, unknown> & { failed: boolean };
type Task = Record<string, unknown>;

const URI = ['ansible.builtin.uri', 'uri'];
const COMMAND = ['ansible.builtin.command', 'command'];
const FAIL = ['ansible.builtin.fail', 'fail'];
const TASK_KEYS = new Set(['name', 'block', 'rescue', 'register', 'until', 'retries', 'delay', 'failed_when', 'when', ...URI, ...COMMAND, ...FAIL]);
const URI_KEYS = new Set(['url', 'method', 'status_code', 'timeout', 'return_content', 'headers']);
const PLAY_KEYS = new Set(['name', 'hosts', 'strategy', 'gather_facts', 'module_defaults', 'vars', 'tasks']);
const DEFAULT_URI_TIMEOUT_S = 30;

export async function runPlaybook(source: string, options: PlaybookOptions): Promise<Map<string, HostOutcome>> {
  const plays = yaml.load(source) as Task[];
  if (!Array.isArray(plays) || plays.length !== 1) throw new Error('the playbook should hold exactly one play');
  const play = plays[0]!;
  for (const key of Object.keys(play)) if (!PLAY_KEYS.has(key)) throw new Error(`play key ${key} is not supported`);
  // Hosts run independently; with the default linear strategy a gate would still open, but in lock-step.
  if (play['strategy'] !== 'free') throw new Error('the play should use strategy: free, so each node moves at its own pace');
  const outcomes = await Promise.all(options.hosts.map((host) => new Host(host, play, options).run()));
  return new Map(options.hosts.map((host, index) => [host, outcomes[index]!]));
}

class Host {
  private readonly registered = new Map<string, Result>();
  private readonly runs: TaskRun[] = [];

  constructor(private readonly name: string, private readonly play: Task, private readonly options: PlaybookOptions) {}

  async run(): Promise<HostOutcome> {
    const failed = await this.runTasks(this.play['tasks'] as Task[]);
    return { ok: !failed, ...(failed ? { failed } : {}), runs: this.runs };
  }

  /** Runs tasks in order; returns the first failure, or undefined when all passed. */
  private async runTasks(tasks: Task[]): Promise<{ task: string; message: string } | undefined> {
    for (const task of tasks) {
      const failure = await this.runTask(task);
      if (failure) return failure;
    }
    return undefined;
  }

  private async runTask(task: Task): Promise<{ task: string; message: string } | undefined> {
    for (const key of Object.keys(task)) if (!TASK_KEYS.has(key)) throw new Error(`task key ${key} is not supported (task ${String(task['name'])})`);
    const name = String(task['name'] ?? '(unnamed)');
    if (task['when'] !== undefined && !this.test(String(task['when']))) return undefined;
    if (task['block']) {
      const failure = await this.runTasks(task['block'] as Task[]);
      if (!failure || !task['rescue']) return failure;
      return this.runTasks(task['rescue'] as Task[]);
    }
    const until = task['until'] === undefined ? undefined : String(task['until']);
    // Ansible runs a task with `until` up to retries + 1 times (retries defaults to 3, delay to 5 s).
    const attempts = until === undefined ? 1 : Number(task['retries'] ?? 3) + 1;
    const delayMs = Number(task['delay'] ?? 5) * 1000 * this.options.timeScale;
    let result: Result = { failed: true };
    let attempt = 0;
    let met = until === undefined;
    while (attempt < attempts) {
      attempt += 1;
      result = await this.runModule(task);
      if (task['register']) this.registered.set(String(task['register']), result);
      if (task['failed_when'] !== undefined) result.failed = this.test(String(task['failed_when']));
      if (until === undefined || (met = this.test(until))) break;
      if (attempt < attempts) await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    if (!met) result.failed = true;
    this.runs.push({ name, attempts: attempt, failed: result.failed, result });
    return result.failed ? { task: name, message: String(result['msg'] ?? '') } : undefined;
  }

  private async runModule(task: Task): Promise<Result> {
    const module = Object.keys(task).find((key) => [...URI, ...COMMAND, ...FAIL].includes(key))!;
    const args = task[module];
    if (URI.includes(module)) return this.uri({ ...this.uriDefaults(), ...(args as Record<string, unknown>) });
    if (COMMAND.includes(module)) return this.command(this.render(String(args)));
    return { failed: true, msg: this.render(String((args as Record<string, unknown>)['msg'] ?? 'Failed as requested from task')) };
  }

  /** The play's module_defaults for uri, under either of its names. */
  private uriDefaults(): Record<string, unknown> {
    const defaults = (this.play['module_defaults'] ?? {}) as Record<string, Record<string, unknown>>;
    for (const key of Object.keys(defaults)) if (!URI.includes(key)) throw new Error(`module_defaults for ${key} are not supported`);
    return { ...defaults['uri'], ...defaults['ansible.builtin.uri'] };
  }

  private async uri(args: Record<string, unknown>): Promise<Result> {
    for (const key of Object.keys(args)) if (!URI_KEYS.has(key)) throw new Error(`uri option ${key} is not supported`);
    const url = this.render(String(args['url']));
    const method = String(args['method'] ?? 'GET');
    const accepted = ([] as unknown[]).concat(args['status_code'] ?? [200]).map(Number);
    const timeoutS = Number(args['timeout'] ?? DEFAULT_URI_TIMEOUT_S);
    const wait = /[?&]wait=([^&]+)/.exec(url)?.[1];
    if (wait !== undefined && timeoutS * 1000 <= parseDuration(wait)) {
      throw new Error(`uri ${url}: timeout ${timeoutS}s does not outlast wait=${wait}; the client would give up before chartd answers`);
    }
    const sent = wait === undefined ? url : url.replace(/([?&]wait=)[^&]+/, `$1${Math.max(1, Math.round(parseDuration(wait) * this.options.timeScale))}ms`);
    try {
      const given = args['headers'] as Record<string, string> | undefined;
      const headers = given && Object.fromEntries(Object.entries(given).map(([name, value]) => [name, this.render(String(value))]));
      const answer = await fetch(sent, { method, signal: AbortSignal.timeout(timeoutS * 1000), ...(headers ? { headers } : {}) });
      const body = await answer.text();
      const result: Result = { failed: !accepted.includes(answer.status), status: answer.status, url, msg: `OK (${body.length} bytes)` };
      // As the uri module does: response headers as keys, lower-cased, with _ for -.
      answer.headers.forEach((value, key) => (result[key.toLowerCase().replaceAll('-', '_')] = value));
      if (args['return_content']) result['content'] = body;
      if (result.failed) result['msg'] = `Status code was ${answer.status} and not [${accepted.join(', ')}]: HTTP Error ${answer.status}`;
      return result;
    } catch (error) {
      return { failed: true, status: -1, url, msg: `Status code was -1 and not [${accepted.join(', ')}]: Request failed: ${(error as Error).message}` };
    }
  }

  /** The command module runs no shell: the line is split into arguments. */
  private command(line: string): Promise<Result> {
    const [file, ...args] = line.trim().split(/\s+/);
    return new Promise((resolve) => {
      const child = spawn(file!, args, { env: { ...process.env, ...this.options.env(this.name) }, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.once('error', (error) => resolve({ failed: true, rc: 2, cmd: line, msg: error.message, stdout, stderr }));
      child.once('close', (code) => resolve({ failed: code !== 0, rc: code, cmd: line, msg: code === 0 ? '' : 'non-zero return code', stdout, stderr }));
    });
  }

  private test(expression: string): boolean {
    return Boolean(evaluateExpression(expression, (name) => this.lookup(name)));
  }

  private render(text: string): string {
    return renderTemplate(text, (name) => this.lookup(name));
  }

  /** Variable precedence, as far as this playbook needs it: extra vars, registered results, play vars. */
  private lookup(name: string, depth = 0): unknown {
    if (depth > 10) throw new Error(`variable ${name} refers to itself`);
    if (Object.hasOwn(this.options.extraVars, name)) return this.options.extraVars[name];
    if (this.registered.has(name)) return this.registered.get(name);
    if (name === 'inventory_hostname') return this.name;
    const vars = (this.play['vars'] ?? {}) as Record<string, unknown>;
    if (!Object.hasOwn(vars, name)) return undefined;
    const value = vars[name];
    return typeof value === 'string' ? renderTemplate(value, (inner) => this.lookup(inner, depth + 1)) : value;
  }
}
