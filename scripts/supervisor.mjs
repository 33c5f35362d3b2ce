// Keeps the launcher's processes running: a service (or the nats-server /
// redis-server the launcher started) that exits unexpectedly is started again
// with exponential backoff. Two exits are not retried: a bad configuration
// (exit 78, it would fail the same way) and a crash loop. The decision is a
// pure function (restartDecision) so its rules can be read and tested alone.
import { constants } from 'node:os';

/** sysexits.h EX_CONFIG, what libs/service/run-main.ts exits with on a bad setting. */
export const EX_CONFIG = 78;

/**
 * First restart after 200 ms (a port freed by a killed process is reusable at
 * once on Linux), doubling up to 10 s; a process that stayed up 30 s is stable
 * again and its next crash starts over at 200 ms. 5 exits within 60 s is a crash
 * loop: with the doubling that is ~3 s of delays plus five start-ups, far more
 * than any single kill or transient failure needs.
 */
export const RESTART_POLICY = { firstDelayMs: 200, maxDelayMs: 10_000, stableMs: 30_000, loopCrashes: 5, loopWindowMs: 60_000 };

/** "exit code 1", "signal SIGKILL", "exit code 137 (SIGKILL)" (a shell reports its child's signal as 128+n). */
export function describeExit(code, signal) {
  if (signal) return `signal ${signal}`;
  const name = code > 128 ? Object.entries(constants.signals).find(([, n]) => n === code - 128)?.[0] : undefined;
  return name ? `exit code ${code} (${name})` : `exit code ${code}`;
}

/**
 * What to do after an exit. `crashes` are the times of earlier unexpected
 * exits, `upMs` how long the process ran this time. Returns the new crash
 * history and { action: 'restart', delayMs } | { action: 'config' } | { action: 'loop' }.
 */
export function restartDecision({ crashes, streak, upMs, code, now }, policy = RESTART_POLICY) {
  if (code === EX_CONFIG) return { action: 'config', crashes, streak };
  const recent = [...crashes.filter((at) => now - at < policy.loopWindowMs), now];
  if (recent.length >= policy.loopCrashes) return { action: 'loop', crashes: recent, streak, count: recent.length };
  const nextStreak = upMs >= policy.stableMs ? 1 : streak + 1;
  const delayMs = Math.min(policy.firstDelayMs * 2 ** (nextStreak - 1), policy.maxDelayMs);
  return { action: 'restart', delayMs, crashes: recent, streak: nextStreak };
}

/**
 * Supervises one process. `start()` starts it and resolves to its ChildProcess
 * (a rejection counts as a crash); `onStart(child)` sees every (re)start;
 * `stopping()` is true once the launcher shuts down; `ready()` (optional) resolves
 * true when a restarted process serves again. Returns { stop() } to cancel a pending restart.
 */
export function supervise({ name, logFile, log, start, stopping, onStart = () => undefined, ready }) {
  let crashes = [];
  let streak = 0;
  let timer;
  let startedAt = Date.now();

  const watch = (child) => {
    startedAt = Date.now();
    onStart(child);
    child.once('exit', (code, signal) => {
      if (stopping()) return;
      // Ctrl-C reaches the whole process group: a service may exit from it a moment before the
      // launcher's own handler runs. Such an exit is judged once the launcher had its chance to stop.
      const clean = code === 0 || signal === 'SIGINT' || signal === 'SIGTERM';
      setTimeout(() => stopping() || crashed(code, signal, describeExit(code, signal)), clean ? 300 : 0);
    });
  };

  const crashed = (code, signal, how) => {
    const decision = restartDecision({ crashes, streak, upMs: Date.now() - startedAt, code, now: Date.now() });
    crashes = decision.crashes;
    streak = decision.streak;
    if (decision.action === 'config') {
      log(`${name} exited with code 78 (bad configuration): not restarting it, it would fail the same way; see ${logFile}`);
    } else if (decision.action === 'loop') {
      log(
        `${name} keeps crashing (${decision.count} exits within ${RESTART_POLICY.loopWindowMs / 1000} s, last: ${how}): not restarting it again; see ${logFile}`,
      );
    } else {
      log(`${name} exited unexpectedly (${how}); restarting in ${decision.delayMs} ms; its log: ${logFile}`);
      timer = setTimeout(restart, decision.delayMs);
    }
  };

  const restart = async () => {
    timer = undefined;
    if (stopping()) return;
    const at = Date.now();
    let child;
    try {
      child = await start();
    } catch (error) {
      startedAt = at;
      if (!stopping()) crashed(1, null, `failed to start: ${String(error.message).split('\n')[0]}`);
      return;
    }
    watch(child);
    if (ready && (await ready(child)) && !stopping() && child.exitCode === null)
      log(`${name} is back (ready ${Date.now() - at} ms after the restart)`);
  };

  return {
    watch,
    stop: () => timer && clearTimeout(timer),
  };
}
