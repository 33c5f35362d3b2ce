import { describe, expect, it } from 'vitest';
import { otlpTracesUrl } from './tracing.js';

describe('OTLP traces URL', () => {
  it('appends /v1/traces to the base endpoint (OTEL_EXPORTER_OTLP_ENDPOINT), after any path', () => {
    expect(otlpTracesUrl('http://collector:4318')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('https://otel.example.com/tenant-a')).toBe('https://otel.example.com/tenant-a/v1/traces');
    expect(otlpTracesUrl('https://otel.example.com/otlp?tenant=a')).toBe('https://otel.example.com/otlp/v1/traces?tenant=a');
  });

  it('does not append it again when the base endpoint is already the full traces URL', () => {
    expect(otlpTracesUrl('http://collector:4318/v1/traces')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('http://collector:4318/v1/traces/')).toBe('http://collector:4318/v1/traces');
    expect(otlpTracesUrl('https://otel.example.com/tenant-a/v1/traces')).toBe('https://otel.example.com/tenant-a/v1/traces');
  });

  it('uses OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as-is, over the base endpoint', () => {
    expect(otlpTracesUrl('http://collector:4318', 'http://other:4318/custom')).toBe('http://other:4318/custom');
    expect(otlpTracesUrl(undefined, 'http://other:4318/v1/traces/')).toBe('http://other:4318/v1/traces/');
  });

  it('exports nowhere when neither is set', () => {
    expect(otlpTracesUrl(undefined)).toBeUndefined();
    expect(otlpTracesUrl(undefined, undefined)).toBeUndefined();
  });
});
