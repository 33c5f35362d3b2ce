// Shared by the k6 suites: target URLs, a duration scale, and reading the
// fleet-wide counters from the telemetry service's Prometheus text.
import http from 'k6/http';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8080';
export const METRICS_URL = __ENV.METRICS_URL || 'http://127.0.0.1:9090/metrics';
/** K6_SCALE=0.1 runs every stage ten times shorter (smoke runs); 1 = the seed's durations. */
export const SCALE = Number(__ENV.K6_SCALE || 1);

export function seconds(s) {
  return `${Math.max(1, Math.round(s * SCALE))}s`;
}

/** Sum of every sample of `metric` in the fleet metrics (0 when absent). */
export function fleetCounter(metric) {
  const response = http.get(METRICS_URL, { tags: { name: 'metrics' } });
  if (response.status !== 200) return 0;
  let total = 0;
  for (const line of response.body.split('\n')) {
    if (line.startsWith(`${metric}{`) || line.startsWith(`${metric} `)) total += Number(line.split(' ').pop());
  }
  return total;
}
