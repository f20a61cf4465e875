// Runs a playbook with the real ansible-playbook: an inventory of hosts on a local connection, extra vars, and
// the JSON callback's report read back per host.

import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:fs';
import { access, chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface PlaybookRun {
  /** The playbook's text, e.g. a recipe from docs/recipes.md. */
  readonly playbook: string;
  readonly hosts: readonly string[];
  /** The inventory group the hosts are in, as the play's `hosts:` names it. */
  readonly group: string;
  /** `-e @vars.json`: typed, and above every other variable. */
  readonly extraVars: Readonly<Record<string, unknown>>;
  /** Added to ansible-playbook's environment, which the local connection hands to every module and command. */
  readonly env: NodeJS.ProcessEnv;
  /** Set in each host's own environment (through the interpreter its modules run with), e.g. which node a command is on. */
  readonly hostEnv: (host: string) => Readonly<Record<string, string>>;
  /** Where the inventory, vars and Ansible's temporary files go. */
  readonly dir: string;
}

export interface TaskRun {
  readonly name: string;
  readonly result: Record<string, unknown>;
}

export interface HostOutcome {
  /** Every task the host ran, in order, with its result (status, attempts, msg, …). */
  readonly runs: TaskRun[];
  /** The task that failed the host, and its message. */
  readonly failed?: { readonly task: string; readonly message: string };
}

export interface PlaybookResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly hosts: Map<string, HostOutcome>;
  readonly stderr: string;
}

export interface RunningPlaybook {
  readonly child: ChildProcess;
  readonly done: Promise<PlaybookResult>;
  /** SIGKILL to ansible-playbook and everything it started (its process group): an operator's machine going away. */
  kill(): Promise<PlaybookResult>;
}

/** Starts ansible-playbook in its own process group, so kill() reaches its workers and their commands too. */
export async function runPlaybook(run: PlaybookRun): Promise<RunningPlaybook> {
  await mkdir(run.dir, { recursive: true });
  const python = await ansiblePython();
  const inventory = [`[${run.group}]`];
  for (const host of run.hosts) {
    // Every host is this machine; its modules run under a wrapper that gives them the host's own environment.
    const wrapper = join(run.dir, `python-${host}`);
    const exports = Object.entries(run.hostEnv(host)).map(([name, value]) => `export ${name}=${shellQuote(value)}\n`).join('');
    await writeFile(wrapper, `#!/bin/sh\n${exports}exec ${python} "$@"\n`);
    await chmod(wrapper, 0o755);
    inventory.push(`${host} ansible_connection=local ansible_python_interpreter=${wrapper}`);
  }
  await writeFile(join(run.dir, 'inventory'), `${inventory.join('\n')}\n`);
  await writeFile(join(run.dir, 'vars.json'), JSON.stringify(run.extraVars));
  await writeFile(join(run.dir, 'playbook.yml'), run.playbook);
  const child = spawn('ansible-playbook', ['-i', join(run.dir, 'inventory'), '-e', `@${join(run.dir, 'vars.json')}`, join(run.dir, 'playbook.yml')], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ANSIBLE_STDOUT_CALLBACK: 'ansible.posix.json',
      ANSIBLE_LOCAL_TEMP: join(run.dir, 'tmp'),
      ANSIBLE_REMOTE_TEMP: join(run.dir, 'tmp'),
      ANSIBLE_RETRY_FILES_ENABLED: 'false',
      ANSIBLE_NOCOLOR: '1',
      ...run.env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<PlaybookResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stderr, hosts: signal ? new Map() : readReport(stdout, run.hosts, stderr) }));
  });
  return {
    child, done,
    async kill() {
      if (child.exitCode === null && child.signalCode === null) process.kill(-child.pid!, 'SIGKILL');
      return done;
    },
  };
}

interface Report {
  readonly plays: { readonly tasks: { readonly task: { readonly name: string }; readonly hosts: Record<string, Record<string, unknown>> }[] }[];
}

/** The JSON callback lists tasks with each host's result; with strategy: free a task appears once per host that ran it. */
function readReport(stdout: string, hosts: readonly string[], stderr: string): Map<string, HostOutcome> {
  let report: Report;
  try {
    report = JSON.parse(stdout.slice(stdout.indexOf('{'))) as Report;
  } catch {
    throw new Error(`ansible-playbook printed no JSON report:\n${stdout}\n${stderr}`);
  }
  const outcomes = new Map(hosts.map((host) => [host, { runs: [] as TaskRun[], failed: undefined as HostOutcome['failed'] }]));
  for (const play of report.plays) {
    for (const { task, hosts: results } of play.tasks) {
      for (const [host, result] of Object.entries(results)) {
        const outcome = outcomes.get(host)!;
        outcome.runs.push({ name: task.name, result });
        // A failure inside block: is rescued; the host failed if its last failing task stands.
        if (result['failed'] === true) outcome.failed = { task: task.name, message: String(result['msg'] ?? '') };
        else if (outcome.failed && result['skipped'] !== true) outcome.failed = undefined;
      }
    }
  }
  return new Map([...outcomes].map(([host, { runs, failed }]) => [host, { runs, ...(failed ? { failed } : {}) }]));
}

/** The Python ansible-playbook itself runs on (its #! line): the one its modules are written for. */
async function ansiblePython(): Promise<string> {
  const found = await firstOnPath('ansible-playbook');
  if (!found) throw new Error("ansible-playbook is not installed: bash .ci/deps.sh installs Debian's ansible");
  const firstLine = (await readFile(found, 'utf8')).split('\n')[0] ?? '';
  const match = /^#!\s*(\S+)(?:\s+(\S+))?/.exec(firstLine);
  if (!match) throw new Error(`cannot tell which python ${found} runs on`);
  return match[1]!.endsWith('/env') ? match[2]! : match[1]!;
}

async function firstOnPath(program: string): Promise<string | undefined> {
  for (const dir of (process.env['PATH'] ?? '').split(':').filter(Boolean)) {
    try {
      await access(join(dir, program), constants.X_OK);
      return join(dir, program);
    } catch {
      // not in this directory
    }
  }
  return undefined;
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
