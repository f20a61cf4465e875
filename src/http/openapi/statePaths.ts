// StateService's contract on its three paths: GET asks "is S current?", PUT checks in or sends an event, POST /state predicts.

import { array, json, object, operation, string, text, type Answer, type Json } from './build.js';

type Target = 'bare' | 'chart' | 'instance';

const WHO: Record<Target, string> = {
  bare: 'the default chart\'s default instance (`--default-chart`, or the only chart served)',
  chart: "the chart's default instance",
  instance: 'one instance of the chart',
};

const PARAMS: Record<Target, string[]> = { bare: [], chart: ['chart'], instance: ['chart', 'instance'] };

/** /state answers as StateService did: no header of chartd's, an empty 406. The /charts/… paths add both. */
function answers(target: Target, yes: string, no: string): Record<number, Answer> {
  const headers = target === 'bare' ? [] : ['X-Chartd-Revision', 'X-Chartd-State'];
  return {
    200: text(`${yes}; the body is the state's name`, headers),
    406: text(target === 'bare' ? `${no}; the body is empty, as StateService's was` : `${no}; the body says why`, headers),
  };
}

function ask(target: Target, id: string): Json {
  return operation({
    id, tag: 'StateService', scope: 'read',
    summary: `Is state S current? (${WHO[target]})`,
    description: 'With `wait`, a long-poll: 200 as soon as S is current; 406 when the wait runs out or the instance finishes in another state. ' +
      'With `index` and `wait`, a blocking query: answers once the revision moves past `index`. HEAD answers as GET.',
    params: [...PARAMS[target], 'state', 'wait', 'index'],
    answers: answers(target, 'S is current', 'S is not current'),
    // 503: a long-poll released because chartd is stopping.
    errors: [400, 404, 503],
  });
}

function move(target: Target, id: string): Json {
  const owned = target === 'bare' ? 'the default chart' : 'the chart in the path';
  return operation({
    id, tag: 'StateService', scope: 'write',
    guard: `write on ${owned}; refused (403 owned_by_service) for a chart a built-in service owns`,
    summary: `Check in at state S, or send an event while S is current (${WHO[target]})`,
    description: 'Counts a check-in at the gate S (each caller once on a distinct gate) or, with `event`, sends that event. ' +
      'The answer comes once the change is durable. 406 when S is not current, is final, or is driven by a timer or a step, or the event is not accepted; ' +
      '400 (caller_required) when a distinct gate gets no caller.',
    params: [...PARAMS[target], 'state', 'by', 'callerHeader', 'eventQuery'],
    answers: answers(target, 'S was current and the change is applied and durable', 'not applied'),
    errors: [400, 404, 503],
  });
}

function predict(target: 'bare' | 'chart', id: string): Json {
  return operation({
    id, tag: 'StateService', scope: 'read',
    guard: 'read (or admin): a prediction stores and moves nothing; no token where the auth file says reads: open',
    summary: `Predict a machine's state from its metrics, by a model ${target === 'bare' ? 'the default chart' : 'the chart'} names`,
    description: "StateService's POST /state. The chart names decision-tree models under `models:`; without one every request is 400 unknown_model. " +
      'A wrong request is 400: unknown_model (the message lists the models), invalid_values (a row of the wrong length, a value that is not a number).',
    params: PARAMS[target],
    body: {
      description: 'the model and one row of feature values per prediction',
      schema: object({ name: string('one of the chart\'s models'), values: array(array({ type: 'number' }), 'rows of the model\'s features, in order') }, [], { additionalProperties: false }),
    },
    answers: { 200: json('one predicted state per row', object({ state: array(string()) })) },
    errors: [404],
  });
}

export const STATE_PATHS: Record<string, Json> = {
  '/state': { get: ask('bare', 'getState'), put: move('bare', 'putState'), post: predict('bare', 'predictState') },
  '/charts/{chart}/state': { get: ask('chart', 'getChartState'), put: move('chart', 'putChartState'), post: predict('chart', 'predictChartState') },
  '/charts/{chart}/instances/{id}/state': { get: ask('instance', 'getInstanceState'), put: move('instance', 'putInstanceState') },
};
