// What counting one request or transition costs in isolation: RequestMetrics and LabelledCounter (counted in place, as
// chartd does) against prom-client's own Counter and Histogram (what the obvious code would call). Run after `npm run build`.
import { Counter, Histogram, Registry } from 'prom-client';
import { LabelledCounter } from '../dist/metrics/inPlace.js';
import { REQUEST_BUCKETS, RequestMetrics } from '../dist/metrics/requestMetrics.js';

const COUNT = 2_000_000;
const ROUTE = '/charts/:chart/state';

function time(name, record) {
  for (let i = 0; i < 200_000; i++) record(i);
  const started = performance.now();
  for (let i = 0; i < COUNT; i++) record(i);
  const ns = ((performance.now() - started) * 1e6) / COUNT;
  process.stdout.write(`${name}: ${ns.toFixed(0)} ns each\n`);
}

const requests = new RequestMetrics();
time('RequestMetrics.record (in place)', (i) => requests.record(ROUTE, 'GET', i % 10 ? 200 : 406, 0.0003));
const registry = new Registry();
const labelNames = ['route', 'method', 'status'];
const counter = new Counter({ name: 'requests_total', help: 'h', labelNames, registers: [registry] });
const histogram = new Histogram({ name: 'request_seconds', help: 'h', labelNames, buckets: [...REQUEST_BUCKETS], registers: [registry] });
const children = { 200: [counter.labels(ROUTE, 'GET', '200'), histogram.labels(ROUTE, 'GET', '200')], 406: [counter.labels(ROUTE, 'GET', '406'), histogram.labels(ROUTE, 'GET', '406')] };
time('prom-client Counter + Histogram children', (i) => {
  const [count, duration] = children[i % 10 ? 200 : 406];
  count.inc();
  duration.observe(0.0003);
});
const TRANSITION = ['chart', 'from', 'to', 'cause'];
const transitions = new LabelledCounter(TRANSITION);
time('LabelledCounter.inc, a transition (in place)', (i) => transitions.inc(['bench-loop', 'loop', 'loop', i % 10 ? 'event:tick' : 'put']));
const counted = new Counter({ name: 'transitions_total', help: 'h', labelNames: TRANSITION, registers: [registry] });
time('prom-client Counter.inc with the four labels', (i) => counted.inc({ chart: 'bench-loop', from: 'loop', to: 'loop', cause: i % 10 ? 'event:tick' : 'put' }));
time('performance.now() twice (the timing itself)', () => performance.now() - performance.now());
