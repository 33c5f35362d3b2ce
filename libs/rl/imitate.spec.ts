import { createStrategy } from '#libs/policy';
import { beliefPolicy, costPerRequest, onOffModelOf, planOnOff, simConfigOf, simulate, summarize } from '#libs/sim';
import { describe, expect, it } from 'vitest';
import { trainImitation } from './imitate.js';
import { smallBursty } from './small-scenario.spec-support.js';
import { validationEpisodes } from './training-traffic.js';

const small = smallBursty(4000);

describe('trainImitation (behaviour cloning with DAgger)', () => {
  it('learns a teacher that needs the traffic model from the features alone, and costs about what the teacher costs', () => {
    const plan = planOnOff(onOffModelOf(small.traffic.process)!, {
      callCostMs: small.callCostMs,
      batchTimeoutMs: small.batchTimeoutMs,
      maxBatchSize: small.maxBatchSize,
      tickMs: small.tickMs,
      logitStep: 0.5,
    });
    const { model, history } = trainImitation({
      teacher: () => beliefPolicy(plan),
      episodes: validationEpisodes([small], [1, 2, 3, 4]),
      hidden: [32, 32],
      observationSize: 5,
      idleInputGain: 10,
      strategyParams: {},
      rounds: 3,
      epochs: 4,
      batchSize: 128,
      learningRate: 1e-3,
      flushWeight: 3,
      seed: 1,
    });
    expect(history.map((h) => h.round)).toEqual([1, 2, 3]);
    expect(history.at(-1)!.samples).toBeGreaterThan(history[0]!.samples);
    // Agreement is measured on the states the student itself visits before each round's update.
    expect(history.at(-1)!.agreement).toBeGreaterThan(0.8);

    const [test] = validationEpisodes([small], [99]);
    const cost = (run: ReturnType<typeof simulate>) => costPerRequest(summarize(run), small.callCostMs);
    const student = createStrategy({ name: 'ppo', params: {} }, { network: model.actor.toMlp('student') });
    const teacher = beliefPolicy(plan);
    const studentCost = cost(simulate(test!.trace, student, simConfigOf(small, 99)));
    const teacherCost = cost(simulate(test!.trace, teacher.strategy, simConfigOf(small, 99), teacher.observer));
    const timerCost = cost(
      simulate(test!.trace, createStrategy({ name: 'fixed_timer', params: { window_ms: 50 } }), simConfigOf(small, 99)),
    );
    expect(studentCost).toBeLessThan(teacherCost * 1.1);
    expect(studentCost).toBeLessThan(timerCost);
  });

  it('rejects a training without rounds', () => {
    expect(() =>
      trainImitation({
        teacher: () => ({ strategy: createStrategy({ name: 'fixed_timer', params: {} }) }),
        episodes: [],
        hidden: [4],
        observationSize: 5,
        idleInputGain: 1,
        strategyParams: {},
        rounds: 0,
        epochs: 1,
        batchSize: 1,
        learningRate: 1e-3,
        seed: 1,
      }),
    ).toThrow(/rounds/);
  });
});
