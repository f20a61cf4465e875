// Turns a run's figures into the markdown of bench/results.md, each figure with its ratio and its target.
import { pairedRatio } from './stats.mjs';

const count = (n) => n.toLocaleString('en-US');
const rps = (n) => count(Math.round(n));
const ms = (n) => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const mb = (n) => `${Math.round(n)} MB`;
const times = (value) => `${value.toFixed(2)}×`;
const ratio = (a, b) => times(a / b);
const cpu = (n) => (Number.isFinite(n) ? `${Math.round(n)} µs` : 'n/a');
const verdict = (ok) => (ok ? 'PASS' : 'FAIL');

const LOADER_TEXT = {
  autocannon: `autocannon in its own process, on 127.0.0.1,
  one request in flight per connection. Latencies are autocannon's per-response times, to the microsecond.`,
  wrk: `wrk (one thread; BENCH_LOADER=wrk) in its own process, on 127.0.0.1,
  one request in flight per connection. Latencies are wrk's percentiles, to the microsecond.`,
};

function table(head, rows) {
  return [`| ${head.join(' | ')} |`, `| ${head.map(() => '---').join(' | ')} |`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

export function renderReport(run) {
  const { config, machine, get, baselineGet, putGate, putSpread, scale, startup, baselineStart } = run;
  const checks = [];
  const check = (name, ok, detail) => {
    checks.push({ name, ok, detail });
    return verdict(ok);
  };

  const throughput = [];
  const latency = [];
  for (const connections of config.connections) {
    const base = baselineGet[connections];
    const own = get[connections];
    const getRatio = pairedRatio(own, base);
    throughput.push([
      'GET /state?state=open', connections, rps(own.rps), `${rps(own.minRps)}–${rps(own.maxRps)}`, rps(base.rps), times(getRatio),
      `${cpu(own.cpuUs)} / ${cpu(base.cpuUs)}`,
      '≥ 0.80× baseline', check(`GET at ${connections} connections ≥ 0.8× the Koa baseline`, getRatio >= 0.8, `${times(getRatio)} (${rps(own.rps)} vs ${rps(base.rps)} req/s)`),
    ]);
    for (const [label, figure] of [['durable PUT, one gate', putGate[connections]], [`durable PUT, spread over ${count(config.spread)} instances`, putSpread[connections]]]) {
      const ofGet = pairedRatio(figure, own);
      throughput.push([
        label, connections, rps(figure.rps), `${rps(figure.minRps)}–${rps(figure.maxRps)}`, rps(base.rps), times(pairedRatio(figure, base)),
        `${cpu(figure.cpuUs)} / ${cpu(base.cpuUs)}`,
        `≥ 0.40× chartd GET (${times(ofGet)})`,
        check(`${label} at ${connections} connections ≥ 0.4× chartd's GET`, ofGet >= 0.4, `${times(ofGet)} (${rps(figure.rps)} vs ${rps(own.rps)} req/s)`),
      ]);
    }
    for (const [label, figure] of [['GET /state?state=open', own], ['durable PUT, one gate', putGate[connections]], [`durable PUT, spread over ${count(config.spread)}`, putSpread[connections]]]) {
      latency.push([label, connections, ms(figure.p50), ms(figure.p99), ms(base.p50), ms(base.p99), times(pairedRatio(figure, base, 'p50')), times(pairedRatio(figure, base, 'p99'))]);
    }
  }

  const smallest = config.scale[0];
  const largest = config.scale.at(-1);
  const scaleBase = baselineGet[config.scaleConnections];
  const scaling = config.scale.map((stored) => {
    const figure = scale[stored];
    const relative = pairedRatio(figure, scale[smallest], 'p50');
    const target = stored === largest && stored !== smallest
      ? check(`PUT p50 with ${count(largest)} instances stored ≤ 1.5× PUT p50 with ${count(smallest)}`, relative <= 1.5, `${times(relative)} (${ms(figure.p50)} vs ${ms(scale[smallest].p50)} ms)`)
      : '';
    return [
      count(stored), config.scaleConnections, rps(figure.rps), ms(figure.p50), ms(figure.p99), cpu(figure.cpuUs),
      ratio(figure.rps, scaleBase.rps), ratio(figure.p50, scaleBase.p50), times(relative), stored === largest ? '≤ 1.50×' : '', target,
    ];
  });

  const startRows = [
    [`start-up, spawn → listening line (median of ${startup.starts.length})`, `${Math.round(startup.ms)} ms`, `${Math.round(baselineStart.ms)} ms`, ratio(startup.ms, baselineStart.ms), '≤ 3,000 ms',
      check(`start-up with ${count(startup.count)} instances ≤ 3 s`, startup.ms <= 3000, `${Math.round(startup.ms)} ms`)],
    ['resident memory after start-up (VmRSS)', mb(startup.rssMB), mb(baselineStart.rssMB), ratio(startup.rssMB, baselineStart.rssMB), '≤ 300 MB',
      check(`VmRSS after start-up with ${count(startup.count)} instances ≤ 300 MB`, startup.rssMB <= 300, mb(startup.rssMB))],
    ['peak resident memory during start-up (VmHWM)', mb(startup.hwmMB), mb(baselineStart.hwmMB), ratio(startup.hwmMB, baselineStart.hwmMB), '', ''],
    [`peak resident memory after the PUT load above (VmHWM)`, mb(startup.hwmAfterLoadMB), '', '', '', ''],
  ];

  const failed = checks.filter((item) => !item.ok);
  const markdown = `# chartd benchmark results

Written by \`npm run bench\` (bench/run.mjs); bench/README.md says what each figure means.

- Machine: ${machine.cpus}; Node ${machine.node}; data directories on ${machine.fileSystem}; source at ${machine.source}.
- That disk: a 700-byte append + fdatasync (what each journal write waits for) took
  ${run.fsync.map((probe, index) => `${index ? 'at the end' : 'at the start'} p50 ${ms(probe.p50)} ms, p90 ${ms(probe.p90)} ms, p99 ${ms(probe.p99)} ms, mean ${ms(probe.mean)} ms`).join('; ')}.
- Each figure: the median of ${config.rounds} round(s) of ${config.seconds} s, each after ${config.warmup} s of unrecorded warm-up.
  Rounds of figures compared with each other are taken in turn (chartd GET, Koa GET, one gate, spread, then again), and
  each ratio is the median of the ratios within a round, so it can differ from the ratio of the medians shown. The
  scaling figures' ratios to the baseline's GET compare medians (that GET is measured apart from them).
  Load: ${LOADER_TEXT[config.loader]}
- chartd runs \`serve --log-level warn\` on bench/charts/gate.yaml (one gate that needs 10⁹ PUTs, so every PUT is
  counted and committed with fdatasync before the answer). The baseline is bench/baseline.mjs: bare Koa + @koa/router.
- Run took ${Math.round(run.seconds)} s.

## Throughput

${table(['Figure', 'Connections', 'chartd req/s', 'rounds (min–max)', 'Koa baseline GET req/s', '× baseline', 'server CPU per request, chartd / baseline', 'Target', 'Result'], throughput)}

## Latency

${table(['Figure', 'Connections', 'p50 ms', 'p99 ms', 'baseline GET p50 ms', 'baseline GET p99 ms', 'p50 × baseline', 'p99 × baseline'], latency)}

## Durable PUT with instances stored

Each connection goes round its own share of the stored instances, so no two PUTs in flight share one.

${table(['Instances stored', 'Connections', 'PUT req/s', 'p50 ms', 'p99 ms', 'server CPU per PUT', 'req/s × baseline GET', 'p50 × baseline GET', `p50 × p50 at ${count(smallest)}`, 'Target', 'Result'], scaling)}

## Start-up with ${count(startup.count)} instances stored (${run.bytesPerInstance} bytes of JSON each)

${table(['Figure', 'chartd', 'Koa baseline', '× baseline', 'Target', 'Result'], startRows)}

## Targets

${checks.map((item) => `- **${verdict(item.ok)}** ${item.name}: ${item.detail}`).join('\n')}

${failed.length ? `${failed.length} of ${checks.length} targets missed.` : `All ${checks.length} targets met.`}
`;
  return { markdown, failed: failed.length > 0 };
}
