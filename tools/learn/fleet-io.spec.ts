import { describe, expect, it } from 'vitest';
import type { ShadowVerdict } from './fleet-io.js';
import { verdictOn } from './fleet-io.js';

const verdict = (version: string, sha256: string | undefined, outcome: ShadowVerdict['outcome']): ShadowVerdict => ({
  version,
  ...(sha256 ? { sha256 } : {}),
  outcome,
  reason: outcome,
  compared: 0,
});

describe('verdictOn: which GET /models verdict is about the model a learn run published', () => {
  it('an earlier model published under the same version, promoted, does not stand in for this one (matched by sha256)', () => {
    const listed = [verdict('learned-x', 'a'.repeat(64), 'promoted'), verdict('learned-x', 'b'.repeat(64), 'refused')];
    expect(verdictOn(listed, 'learned-x', 'b'.repeat(64))?.outcome).toBe('refused');
    expect(verdictOn(listed.slice(0, 1), 'learned-x', 'b'.repeat(64))).toBeUndefined();
  });

  it("a model refused before is the replica's 'skipped' verdict, the newest one on that sha256", () => {
    const sha = 'c'.repeat(64);
    expect(verdictOn([verdict('v', sha, 'refused'), verdict('v', sha, 'skipped')], 'v', sha)?.outcome).toBe('skipped');
  });

  it('a replica that lists no sha256 (older release) is matched by version', () => {
    expect(verdictOn([verdict('v', undefined, 'promoted')], 'v', 'd'.repeat(64))?.outcome).toBe('promoted');
  });
});
