// Seed test 01: latency under a ramp to 150 VUs on one hot URL.
import http from 'k6/http';
import { sleep } from 'k6';
import { Rate, Trend } from 'k6/metrics';
import { BASE_URL, seconds } from './lib.js';

const latency = new Trend('proxy_latency_ms', true);
const errors = new Rate('error_rate');

export const options = {
  stages: [
    { duration: seconds(15), target: 50 },
    { duration: seconds(30), target: 50 },
    { duration: seconds(15), target: 150 },
    { duration: seconds(30), target: 150 },
    { duration: seconds(10), target: 0 },
  ],
  thresholds: { proxy_latency_ms: ['p(50)<60', 'p(99)<120'], error_rate: ['rate<0.01'] },
  summaryTrendStats: ['avg', 'med', 'p(90)', 'p(95)', 'p(99)', 'max'],
};

export default function () {
  const response = http.get(`${BASE_URL}/api/resource`);
  latency.add(response.timings.duration);
  errors.add(response.status !== 200);
  sleep(0.1);
}
