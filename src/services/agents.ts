// Agents: registration tokens (hashed), and the list of agents with their liveness.
import { and, desc, eq, isNull, lt, sql } from 'drizzle-orm';
import type { EventBus } from '../events';
import type { Db } from '../store/db';
import { agentTokens, agents } from '../store/schema';
import { hashToken, newId, newSecretToken } from '../ids';

/** An agent whose last heartbeat is older than this is shown offline. */
export const AGENT_OFFLINE_AFTER_MS = 30_000;

export function createAgentService(db: Db) {
  return {
    async createToken(input: { name: string; createdBy: string }) {
      const token = `arcagent_${newSecretToken().slice(4)}`;
      const tokenId = newId('atok');
      await db.insert(agentTokens).values({ tokenId, name: input.name, tokenHash: hashToken(token), createdBy: input.createdBy });
      return { tokenId, name: input.name, token };
    },

    /** True when `token` is a live registration token. */
    async acceptsToken(token: string): Promise<boolean> {
      const [row] = await db
        .select({ tokenId: agentTokens.tokenId })
        .from(agentTokens)
        .where(and(eq(agentTokens.tokenHash, hashToken(token)), isNull(agentTokens.revokedAt)));
      return !!row;
    },

    /**
     * Agents that stopped beating (killed, cut off) are marked offline, each by exactly one server
     * (the update is atomic), and the change is published like any other transition.
     */
    async markSilentAgentsOffline(events: EventBus, now = Date.now()): Promise<string[]> {
      const silent = await db
        .update(agents)
        .set({ status: 'offline' })
        .where(and(eq(agents.status, 'online'), lt(agents.lastHeartbeatAt, sql`${new Date(now - AGENT_OFFLINE_AFTER_MS).toISOString()}::timestamptz`)))
        .returning({ agentId: agents.agentId });
      for (const { agentId } of silent) await events.publish({ kind: 'agent', id: agentId, agentId, status: 'offline', previousStatus: 'online', reason: 'no heartbeat' });
      return silent.map((a) => a.agentId);
    },

    async list(q: { page: number; pageSize: number }, now = Date.now()) {
      const rows = await db.select().from(agents).orderBy(desc(agents.createdAt), agents.agentId);
      const list = rows.map((a) => {
        const fresh = a.lastHeartbeatAt !== null && now - a.lastHeartbeatAt.getTime() < AGENT_OFFLINE_AFTER_MS;
        return {
          agentId: a.agentId,
          name: a.name,
          labels: a.labels,
          status: a.status === 'online' && fresh ? 'online' : 'offline',
          runningJobs: a.runningJobs,
          maxConcurrentJobs: a.maxConcurrentJobs,
          lastHeartbeatAt: a.lastHeartbeatAt ? a.lastHeartbeatAt.toISOString() : null,
        };
      });
      return { list: list.slice((q.page - 1) * q.pageSize, q.page * q.pageSize), total: list.length, page: q.page, pageSize: q.pageSize };
    },
  };
}

export type AgentService = ReturnType<typeof createAgentService>;
