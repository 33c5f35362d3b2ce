// Seed test 04: a sparse phase (5 VUs, 1 request/s each) then a burst (200 VUs).
// Run once per policy (see k6/run.mjs); sparse and burst latencies are kept apart
// by scenario tag, which the seed's version mixed up.
import http from 'k6/http';
import { sleep } from 'k6';
import { Rate } from 'k6/metrics';
import { BASE_URL, seconds } from './lib.js';

const errors = new Rate('error_rate');

export const options = {
  scenarios: {
    sparse: { executor: 'constant-vus', vus: 5, duration: seconds(30), exec: 'sparse' },
    burst: {
      executor: 'ramping-vus',
      startTime: seconds(40),
      stages: [
        { duration: seconds(5), target: 200 },
        { duration: seconds(30), target: 200 },
        { duration: seconds(5), target: 0 },
      ],
      exec: 'burst',
    },
  },
  thresholds: {
    'http_req_duration{scenario:sparse}': ['p(50)<50'],
    'http_req_duration{scenario:burst}': ['p(99)<=65'],
    error_rate: ['rate<0.01'],
  },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export function sparse() {
  errors.add(http.get(`${BASE_URL}/api/resource`).status !== 200);
  sleep(1);
}

export function burst() {
  errors.add(http.get(`${BASE_URL}/api/resource`).status !== 200);
  sleep(0.05);
}
