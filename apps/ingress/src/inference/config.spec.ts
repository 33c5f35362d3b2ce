import { describe, expect, it } from 'vitest';
import { loadIngressConfig } from '../config.js';

const base = { BATCHGATE_UPSTREAM: 'http://127.0.0.1:9000' };

describe('Flow B settings are validated at start', () => {
  it('the ingress reads BATCHGATE_INFERENCE_MODELS (default sim-embedding,sim-llm) and refuses a bad name, naming the setting', () => {
    expect(loadIngressConfig(base).inference.models).toEqual(['sim-embedding', 'sim-llm']);
    expect(loadIngressConfig({ ...base, BATCHGATE_INFERENCE_MODELS: ' a , b.v2 ' }).inference.models).toEqual(['a', 'b.v2']);
    expect(() => loadIngressConfig({ ...base, BATCHGATE_INFERENCE_MODELS: 'ok,not ok' })).toThrow(/BATCHGATE_INFERENCE_MODELS/);
    expect(() => loadIngressConfig({ ...base, BATCHGATE_INFERENCE_TENANT_QUEUE: '0' })).toThrow(/BATCHGATE_INFERENCE_TENANT_QUEUE/);
  });
});
