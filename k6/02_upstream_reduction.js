// Seed test 02: five bursts of 50 VUs on one URL; reduction = 1 - upstream calls / requests,
// counted by the fleet (telemetry) for exactly this run.
import { sleep } from 'k6';
import http from 'k6/http';
import { Counter, Rate } from 'k6/metrics';
import { BASE_URL, fleetCounter, seconds } from './lib.js';

const success = new Rate('success_rate');
const upstreamCalls = new Counter('upstream_calls');

const wave = [
  { duration: seconds(2), target: 50 },
  { duration: seconds(5), target: 50 },
  { duration: seconds(3), target: 0 },
];

export const options = {
  scenarios: { waves: { executor: 'ramping-vus', startVUs: 0, stages: [...wave, ...wave, ...wave, ...wave, ...wave] } },
  thresholds: { success_rate: ['rate>0.99'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function setup() {
  return { before: fleetCounter('gateway_upstream_calls_total') };
}

export default function () {
  success.add(http.get(`${BASE_URL}/api/resource`).status === 200);
}

export function teardown(data) {
  // Telemetry sees upstream calls through the event stream; give it a moment (a request to the gateway would reach the origin and count).
  sleep(1);
  upstreamCalls.add(fleetCounter('gateway_upstream_calls_total') - data.before);
}

export function handleSummary(data) {
  // Minus the two fleetCounter reads (setup and teardown).
  const requests = data.metrics.http_reqs.values.count - 2;
  const calls = data.metrics.upstream_calls ? data.metrics.upstream_calls.values.count : 0;
  const report = { requests, upstream_calls: calls, reduction_pct: requests > 0 ? (1 - calls / requests) * 100 : 0, metrics: data.metrics };
  return {
    stdout: `requests ${requests}, upstream calls ${calls}, upstream reduction ${report.reduction_pct.toFixed(2)} %\n`,
    [`${__ENV.RESULTS_DIR || 'k6/results'}/02_upstream_reduction.json`]: JSON.stringify(report, null, 2),
  };
}
