// The agent-side gate a step dispatched ahead waits at: it starts only after the attempt before it succeeded here.
import { describe, expect, it } from 'vitest';
import { createStepSuccessions } from '../../src/agent/step-succession';
import type { StepAttempt, StepSuccessions } from '../../src/agent/step-succession';

const a1 = { stepRunId: 'step_a', attempt: 1, dispatchId: 'run_1:1' };
const never = new AbortController().signal;

/** What a step waiting for `attempt` is told when that attempt ends. */
function toldWhenEnded(s: StepSuccessions, attempt: StepAttempt, succeeded: boolean, nextRunning = false) {
  s.began(attempt);
  const waiting = s.waitFor(attempt, never, 1000);
  s.ended(attempt, succeeded, nextRunning);
  return waiting;
}

describe('step successions', () => {
  it('lets a waiting step go when the attempt before it succeeds, its running recorded with that end', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    expect(s.awaited(a1)).toBe(false);
    const waiting = s.waitFor(a1, never, 50);
    expect(s.awaited(a1)).toBe(true);
    await new Promise((r) => setTimeout(r, 80)); // seen begin: the unseen limit does not apply
    s.ended(a1, true, true);
    expect(await waiting).toEqual({ go: true, runningRecorded: true });
  });

  it('keeps a waiting step from starting when the attempt before it fails', async () => {
    expect(await toldWhenEnded(createStepSuccessions(), a1, false)).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
  });

  it('answers a step that arrives after the end from memory; it records its own running', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    s.ended(a1, true, false);
    expect(await s.waitFor(a1, never, 1000)).toEqual({ go: true, runningRecorded: false });
    const failed = { stepRunId: 'step_b', attempt: 2, dispatchId: 'run_1:3' };
    s.began(failed);
    s.ended(failed, false);
    expect(await s.waitFor(failed, never, 1000)).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
  });

  it('tells attempts apart: a later attempt succeeding does not answer for the failed one', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    s.ended(a1, false);
    expect(await toldWhenEnded(s, { stepRunId: 'step_a', attempt: 2, dispatchId: 'run_1:2' }, true, true)).toEqual({ go: true, runningRecorded: true });
    expect(await s.waitFor(a1, never, 1000)).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
  });

  it('gives up on an attempt this agent never sees begin', async () => {
    const s = createStepSuccessions();
    const t = Date.now();
    expect(await s.waitFor(a1, never, 60)).toEqual({ go: false, reason: 'predecessor_not_here' });
    expect(Date.now() - t).toBeGreaterThanOrEqual(50);
  });

  it('waits for an attempt that begins after the step waiting for it arrived', async () => {
    const s = createStepSuccessions();
    const waiting = s.waitFor(a1, never, 100);
    s.began(a1);
    await new Promise((r) => setTimeout(r, 150));
    s.ended(a1, true, false);
    expect(await waiting).toEqual({ go: true, runningRecorded: false });
  });

  it('says a step gave up on by cancellation was recorded running with the end before it', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    const stop = new AbortController();
    const waiting = s.waitFor(a1, stop.signal, 1000);
    s.ended(a1, true, true);
    stop.abort(); // in the same turn: whichever settles first, the running is on record
    expect(await waiting).toMatchObject({ runningRecorded: true });
  });

  it('says so too when given up while the end before it was still being recorded', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    const stop = new AbortController();
    const waiting = s.waitFor(a1, stop.signal, 1000);
    expect(s.awaited(a1)).toBe(true); // the end is being written, this step running with it
    stop.abort();
    expect(await waiting).toEqual({ go: false, reason: 'cancelled', runningRecorded: true });
    s.ended(a1, true, true);
  });

  it('tells the same dispatch of another workflow run (a reset) apart', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    s.ended(a1, true);
    expect(await toldWhenEnded(s, { ...a1, dispatchId: 'run_2:1' }, false)).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
  });

  it('ends the wait on cancellation', async () => {
    const s = createStepSuccessions();
    s.began(a1);
    const stop = new AbortController();
    const waiting = s.waitFor(a1, stop.signal, 1000);
    stop.abort();
    expect(await waiting).toEqual({ go: false, reason: 'cancelled' });
    const already = new AbortController();
    already.abort();
    expect(await s.waitFor({ stepRunId: 'x', attempt: 1, dispatchId: 'run_1:9' }, already.signal, 1000)).toEqual({ go: false, reason: 'cancelled' });
  });

  it('tells dispatches of one attempt apart: one that did not start never lets the next one\'s successor go', async () => {
    const s = createStepSuccessions();
    // Dispatched ahead and refused (a pause got there first): its successor is told at once, even late.
    s.began(a1);
    const early = s.waitFor(a1, never, 1000);
    s.ended(a1, false);
    expect(await early).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
    expect(await s.waitFor(a1, never, 1000)).toEqual({ go: false, reason: 'predecessor_unsuccessful' });
    // The same attempt dispatched again is another dispatch: only its own successor waits for it.
    const again = { ...a1, dispatchId: 'run_1:2' };
    s.began(again);
    const next = s.waitFor(again, never, 1000);
    s.ended(again, true, true);
    expect(await next).toEqual({ go: true, runningRecorded: true });
  });

  it('forgets ended attempts after a while', async () => {
    let now = 0;
    const s = createStepSuccessions(() => now);
    s.began(a1);
    s.ended(a1, true);
    now = 11 * 60_000;
    s.began({ stepRunId: 'other', attempt: 1, dispatchId: 'run_1:9' }); // sweeps
    expect(await s.waitFor(a1, never, 20)).toEqual({ go: false, reason: 'predecessor_not_here' });
  });
});
