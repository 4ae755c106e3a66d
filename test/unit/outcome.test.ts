import { describe, expect, it } from 'vitest';
import { runOutcome } from '../../workflows/outcome';
import { allowedFrom } from '../../src/statuses';

describe('runOutcome', () => {
  it('is success when every job succeeded', () => {
    expect(runOutcome([{ status: 'success', allowedFailure: false }], false)).toBe('success');
  });
  it('is failed when a job failed', () => {
    expect(runOutcome([{ status: 'success', allowedFailure: true }, { status: 'failed', allowedFailure: false }], false)).toBe('failed');
  });
  it('is partial when every failure was allowed', () => {
    expect(runOutcome([{ status: 'success', allowedFailure: true }], false)).toBe('partial');
  });
  it('is cancelled when the run was stopped', () => {
    expect(runOutcome([{ status: 'failed', allowedFailure: false }], true)).toBe('cancelled');
  });
});

describe('status transitions', () => {
  it('never leaves a final status', () => {
    for (const to of ['running', 'success', 'failed']) expect(allowedFrom('run', to)).not.toContain('success');
    expect(allowedFrom('step', 'running')).toEqual(expect.arrayContaining(['pending', 'queued', 'running']));
  });

  it('queues a job or a step again after its agent was lost, never a step that ended', () => {
    expect(allowedFrom('job', 'queued')).toContain('running');
    expect(allowedFrom('step', 'queued').sort()).toEqual(['pending', 'running']);
  });
});
