// The activity every agent serves on the shared pool queue: "take this job", answered with the agent's own queue.
import { ApplicationFailure } from '@temporalio/common';
import type { AgentSelector } from '../src/spec/model';
import { matchesSelector } from '../src/agent/labels';
import type { JobSlots } from '../src/agent/job-slots';

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
}

export interface AcquiredAgent {
  agentId: string;
  name: string;
  taskQueue: string;
}

export function createAgentPoolActivities(agent: AgentIdentity, slots: JobSlots) {
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
      return { agentId: agent.agentId, name: agent.name, taskQueue: agent.taskQueue };
    },
  };
}

export type AgentPoolActivities = ReturnType<typeof createAgentPoolActivities>;
