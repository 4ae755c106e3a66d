// The activity every agent serves on the shared pool queue: "take this job", answered with the agent's own queue.
import { ApplicationFailure } from '@temporalio/common';
import type { AgentSelector } from '../src/spec/model';
import { matchesSelector } from '../src/agent/labels';
import type { JobSlots } from '../src/agent/job-slots';
import type { Transitions } from '../src/store/transitions';

export interface AgentIdentity {
  agentId: string;
  name: string;
  labels: Record<string, string>;
  taskQueue: string;
}

export interface AcquireAgentInput {
  jobRunId: string;
  selector: AgentSelector;
  /** Agents that lost this job before; another one is preferred. */
  excludeTaskQueues: string[];
  /**
   * The agent that takes the job records it `running` itself (attempt 1), and queues the job's first
   * step if named: the workflow then has nothing to write before that step.
   */
  markRunning?: { queueStep?: string };
}

export interface AcquiredAgent {
  agentId: string;
  name: string;
  taskQueue: string;
  /** The agent recorded the job `running` (asked by `markRunning`). */
  recorded?: boolean;
  /** …and queued the step named by `markRunning.queueStep`. */
  stepQueued?: boolean;
  /**
   * The agent holds a step dispatched ahead (`RunStepInput.after`) until the step before it has
   * succeeded; an agent without this would start it at once, so it gets none.
   */
  runsAhead?: boolean;
  /**
   * How many steps of a job it holds waiting at once (its activity slots are sized for it): without
   * it, one. More keep the agent busy while the job workflow takes in a step's end and sends the
   * next: that round trip (a workflow task, the dispatch) takes longer than a short step.
   */
  aheadDepth?: number;
}

/** Steps of one job an agent holds waiting behind the one running (see AcquiredAgent.aheadDepth). */
export const AHEAD_DEPTH = 3;

export function createAgentPoolActivities(agent: AgentIdentity, slots: JobSlots, transitions?: Transitions) {
  return {
    async acquireAgent(input: AcquireAgentInput): Promise<AcquiredAgent> {
      if (!matchesSelector(agent.labels, input.selector)) {
        // Retryable: the retry lands on whichever agent polls next.
        throw ApplicationFailure.retryable(`agent ${agent.name} does not match the job's agentSelector`, 'AgentMismatch');
      }
      if (input.excludeTaskQueues.includes(agent.taskQueue)) {
        throw ApplicationFailure.retryable(`agent ${agent.name} already lost this job`, 'AgentMismatch');
      }
      if (!slots.take(input.jobRunId)) {
        throw ApplicationFailure.retryable(`agent ${agent.name} already runs ${slots.max} jobs`, 'AgentBusy');
      }
      const acquired: AcquiredAgent = { agentId: agent.agentId, name: agent.name, taskQueue: agent.taskQueue, runsAhead: true, aheadDepth: AHEAD_DEPTH };
      if (!input.markRunning || !transitions) return acquired;
      try {
        const { stepQueued } = await transitions.recordJobRunning({ jobRunId: input.jobRunId, agentId: agent.agentId, attempt: 1 }, input.markRunning.queueStep);
        return { ...acquired, recorded: true, stepQueued };
      } catch (err) {
        slots.release(input.jobRunId); // the retry may land on another agent
        throw err;
      }
    },
  };
}

export type AgentPoolActivities = ReturnType<typeof createAgentPoolActivities>;
