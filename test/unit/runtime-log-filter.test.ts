// The Temporal runtime's log: agent-pool refusals are expected traffic, not warnings.
import { describe, expect, it } from 'vitest';
import { isExpectedRefusal } from '../../src/launcher/system';

describe('runtime log filter', () => {
  it('drops agent-pool refusals and keeps every other activity failure', () => {
    expect(isExpectedRefusal('Activity failed', { activityType: 'acquireAgent', error: { type: 'AgentBusy' } })).toBe(true);
    expect(isExpectedRefusal('Activity failed', { error: { type: 'AgentMismatch' } })).toBe(true);
    expect(isExpectedRefusal('Activity failed', { error: { type: 'SetupFailed' } })).toBe(false);
    expect(isExpectedRefusal('Activity failed', undefined)).toBe(false);
    expect(isExpectedRefusal('Worker state changed', { error: { type: 'AgentBusy' } })).toBe(false);
  });
});
