// The StateService dialect (current_state + a states list), accepted unchanged: increment = gate, time = timer, no func = final.
// A file StateService has saved progress into loads too: current_state is where the default instance starts.

import { basename, extname } from 'node:path';
import { parseInstant } from '../duration.js';
import { reachableFrom, type ChartDraft, type TargetRef } from '../graph.js';
import type { StateDef } from '../model.js';
import type { ProblemLog } from '../problem.js';
import { CHART_NAME, CHART_NAME_RULE } from '../schema.js';
import { stateNameProblem } from '../stateName.js';
import { emptyRecord, isRecord } from '../yamlSource.js';

/** Compiles what it can and logs the rest; the shape check (schema.ts) has already logged wrong types and keys. */
export function compileStateService(doc: Record<string, unknown>, file: string, log: ProblemLog): ChartDraft {
  const name = basename(file, extname(file));
  if (!CHART_NAME.test(name)) {
    log.add('', `the file name gives the chart name '${name}', which is not allowed: rename the file so its name is ${CHART_NAME_RULE}`, 0);
  }
  const states = emptyRecord<StateDef>();
  const statePaths = emptyRecord<string>();
  const refs: TargetRef[] = [];
  const list = Array.isArray(doc['states']) ? doc['states'] : [];
  list.forEach((item: unknown, index) => {
    const path = `states[${index}]`;
    if (!isRecord(item) || typeof item['name'] !== 'string') return;
    const stateName = item['name'];
    const badName = stateNameProblem(stateName);
    if (badName) log.add(`${path}.name`, `state name ${JSON.stringify(stateName.slice(0, 80))} ${badName}`);
    const first = statePaths[stateName];
    if (first !== undefined) {
      log.add(`${path}.name`, `duplicate state name '${stateName}' (first defined at line ${log.lineOf(first)})`);
      return;
    }
    statePaths[stateName] = path;
    const state = compileState(stateName, item, path, log, refs);
    if (state) states[stateName] = state;
  });
  const initial = typeof doc['current_state'] === 'string' ? doc['current_state'] : undefined;
  if (initial !== undefined) checkSpentCounts(initial, states, statePaths, log);
  return {
    name,
    initial,
    initialPath: 'current_state',
    states,
    statePaths,
    refs,
    finalHint: 'in a StateService chart, a state without func is final (e.g. "- name: done")',
    // StateService saves progress by moving current_state on: the states behind it are history, not mistakes.
    unreachable: 'note',
  };
}

/**
 * A count already at its target is what StateService leaves in the states a machine has passed; it is wrong only
 * where the machine can still go, since counting up from there never meets the target.
 */
function checkSpentCounts(current: string, states: Readonly<Record<string, StateDef>>, statePaths: Readonly<Record<string, string>>, log: ProblemLog): void {
  const ahead = reachableFrom(current, states);
  for (const state of Object.values(states)) {
    if (state.kind !== 'gate' || state.start < state.count || !ahead.has(state.name)) continue;
    const where = state.name === current ? 'is the current state' : `can still be reached from the current state '${current}'`;
    log.add(`${statePaths[state.name]}.current.value`, `increment starts at ${state.start} but moves on only when the count equals ${state.count}, and '${state.name}' ${where}; counting up from there never gets it, so make current.value smaller than target.when.value`);
  }
}

function compileState(name: string, item: Record<string, unknown>, path: string, log: ProblemLog, refs: TargetRef[]): StateDef | undefined {
  const line = log.lineOf(path);
  const func = item['func'];
  if (func === undefined) {
    if (item['target'] !== undefined || item['current'] !== undefined) {
      log.add(path, `state '${name}' has ${item['target'] !== undefined ? 'a target' : 'a current counter'} but no func, which would make it final; add func: increment or func: time, or remove it`);
      return undefined;
    }
    return { kind: 'final', name, line };
  }
  const target = isRecord(item['target']) ? item['target'] : undefined;
  const when = target && isRecord(target['when']) ? target['when'] : undefined;
  if (!target) {
    if (item['target'] === undefined) log.add(path, `missing required key 'target': func: ${String(func)} needs target: { name, when: { key, value } }`);
    return undefined;
  }
  if (!when || typeof target['name'] !== 'string') return undefined; // the shape check reports these
  const next = target['name'];
  refs.push({ target: next, path: `${path}.target.name` });

  if (func === 'increment') return compileIncrement(name, item, when, next, path, log, line);
  if (func === 'time') {
    try {
      return { kind: 'timer', name, line, atMs: parseInstant(String(when['value'])), next };
    } catch (error) {
      log.add(`${path}.target.when.value`, (error as Error).message);
      return undefined;
    }
  }
  return undefined; // an unknown func: the shape check lists the allowed ones
}

function compileIncrement(
  name: string,
  item: Record<string, unknown>,
  when: Record<string, unknown>,
  next: string,
  path: string,
  log: ProblemLog,
  line: number,
): StateDef | undefined {
  const current = isRecord(item['current']) ? item['current'] : undefined;
  if (!current) {
    if (item['current'] === undefined) log.add(path, "missing required key 'current': func: increment counts from current: { key, value }");
    return undefined;
  }
  const start = current['value'];
  const count = when['value'];
  let valid = true;
  if (!Number.isInteger(start)) {
    log.add(`${path}.current.value`, `func: increment needs a whole number here, not '${String(start)}'`);
    valid = false;
  }
  if (!Number.isInteger(count)) {
    log.add(`${path}.target.when.value`, `func: increment needs a whole number here, not '${String(count)}'`);
    valid = false;
  }
  if (typeof current['key'] !== 'string' || typeof when['key'] !== 'string') return undefined;
  if (current['key'] !== when['key']) {
    log.add(`${path}.target.when.key`, `target.when.key '${when['key']}' differs from current.key '${current['key']}'; an increment counts one key, so both must name it`);
    valid = false;
  }
  if (!valid) return undefined;
  return { kind: 'gate', name, line, start: start as number, count: count as number, distinct: false, counterKey: current['key'], next };
}
