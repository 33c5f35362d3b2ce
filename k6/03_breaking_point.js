// Seed test 03: step ramp 50 -> 800 VUs to find where p99 climbs past 200 ms or errors pass 2 %.
// No thresholds: the per-stage numbers are the result.
import http from 'k6/http';
import { sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import { BASE_URL, seconds } from './lib.js';

const latency = new Trend('proxy_latency_ms', true);
const errors = new Rate('error_rate');
const steps = [50, 100, 200, 400, 600, 800];

export const options = {
  stages: [
    ...steps.flatMap((target) => [
      { duration: seconds(10), target },
      { duration: seconds(20), target },
    ]),
    { duration: seconds(15), target: 0 },
  ],
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const response = http.get(`${BASE_URL}/api/resource`, { tags: { vus: String(__VU <= 50 ? 50 : 800) } });
  latency.add(response.timings.duration);
  errors.add(response.status !== 200);
  sleep(0.05);
}
