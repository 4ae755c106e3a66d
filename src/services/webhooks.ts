// Incoming webhooks (POST /api/v1/webhooks/:pipelineId, no bearer token): the signature is checked
// against the pipeline's secret in constant time, a delivery is handled once, the event is
// normalized and matched against the event triggers of the definition at the pushed commit.
import { and, eq } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../store/db';
import { pipelines, webhookDeliveries } from '../store/schema';
import { AppError, InvalidInput, NotFound, Unauthorized } from '../errors';
import { systemPrincipal } from '../roles';
import type { SecretBox } from '../git/credentials';
import type { CompiledTrigger } from '../spec/model';
import type { PipelineService } from './pipelines';
import type { RunService } from './runs';
import type { SpecChecker } from './spec-checker';
import type { WebhookHeaders } from '../webhooks/signatures';
import { deliveryId, detectProvider, verifySignature } from '../webhooks/signatures';
import { normalizeEvent } from '../webhooks/normalize';
import type { NormalizedEvent } from '../webhooks/normalize';
import { matchTrigger } from '../webhooks/match';

const SYSTEM = systemPrincipal('webhook');

export interface WebhookResult {
  deliveryId: string;
  provider: string;
  triggered: boolean;
  runId: string | null;
  /** Why nothing started, when nothing did. */
  reason: string | null;
  event: NormalizedEvent | null;
  /** The same delivery came before: this is the first answer again, and nothing new happened. */
  duplicate?: boolean;
}

type EventTrigger = Extract<CompiledTrigger, { type: 'event' }>;

export function createWebhookService(deps: { db: Db; box: SecretBox; pipelines: Pick<PipelineService, 'definitionFor'>; runs: Pick<RunService, 'trigger'>; specs: SpecChecker; logger: Logger }) {
  const { db } = deps;

  /** Which of the definition's event triggers the event matches, or why none does. */
  async function match(pipelineId: string, event: NormalizedEvent): Promise<{ ok: true } | { ok: false; reason: string }> {
    // A git-backed pipeline's definition is read at the pushed commit, not at its default branch.
    const found = await deps.pipelines.definitionFor(SYSTEM, pipelineId, event.commitSha ? { commitSha: event.commitSha } : { ref: event.ref });
    if (!found.definition) return { ok: false, reason: 'the pipeline has no definition' };
    let triggers: EventTrigger[];
    try {
      triggers = deps.specs.compileOrReject(found.definition.spec, found.definition.format).triggers.filter((t): t is EventTrigger => t.type === 'event');
    } catch (err) {
      return { ok: false, reason: `the definition at ${event.commitSha ?? event.ref} is not valid: ${(err as Error).message}` };
    }
    if (triggers.length === 0) return { ok: false, reason: 'the pipeline has no event trigger' };
    const reasons: string[] = [];
    for (const t of triggers) {
      const m = matchTrigger(event, { events: t.events, branches: t.branches, paths: t.paths });
      if (m.matched) return { ok: true };
      reasons.push(m.reason);
    }
    return { ok: false, reason: reasons.join('; ') };
  }

  return {
    async handle(pipelineId: string, headers: WebhookHeaders, rawBody: Buffer): Promise<WebhookResult> {
      const [row] = await db.select().from(pipelines).where(eq(pipelines.pipelineId, pipelineId));
      if (!row || row.deletedAt) throw new NotFound(`pipeline ${pipelineId} not found`);
      const provider = detectProvider(headers);
      if (!provider) {
        throw new InvalidInput('unknown webhook provider: expected an X-GitHub-Event, X-Gitlab-Event, X-Gitea-Event or X-Arcentra-Signature header', [
          { path: 'headers', message: 'no known provider header' },
        ]);
      }
      if (!row.webhookSecretSealed) throw new Unauthorized('this pipeline has no webhook secret: set webhookSecret on it first');
      const verified = verifySignature(provider, headers, rawBody, deps.box.open(row.webhookSecretSealed));
      if (!verified.ok) throw new Unauthorized(`webhook signature refused: ${verified.reason}`);
      let payload: unknown;
      try {
        payload = JSON.parse(rawBody.toString('utf8'));
      } catch (err) {
        throw new InvalidInput(`body: not JSON (${(err as Error).message})`, [{ path: 'body', message: 'must be JSON' }]);
      }

      // Claimed before anything happens: a second copy of this delivery, even one arriving now, finds the claim.
      const id = deliveryId(provider, headers, rawBody);
      const claimed = await db.insert(webhookDeliveries).values({ pipelineId, deliveryId: id, provider }).onConflictDoNothing().returning({ deliveryId: webhookDeliveries.deliveryId });
      if (claimed.length === 0) {
        const [earlier] = await db.select().from(webhookDeliveries).where(and(eq(webhookDeliveries.pipelineId, pipelineId), eq(webhookDeliveries.deliveryId, id)));
        const first = (earlier?.result as WebhookResult | null) ?? { deliveryId: id, provider, triggered: false, runId: null, reason: 'this delivery is being handled', event: null };
        return { ...first, duplicate: true };
      }
      let result: WebhookResult;
      try {
        result = await this.decide(row.pipelineId, row.enabled, provider, headers, payload, id);
      } catch (err) {
        // Not handled after all: let the provider's redelivery try again.
        await db.delete(webhookDeliveries).where(and(eq(webhookDeliveries.pipelineId, pipelineId), eq(webhookDeliveries.deliveryId, id)));
        throw err;
      }
      await db
        .update(webhookDeliveries)
        .set({ result: result as unknown as Record<string, unknown> })
        .where(and(eq(webhookDeliveries.pipelineId, pipelineId), eq(webhookDeliveries.deliveryId, id)));
      return result;
    },

    /** The part after the checks: normalize, match, and start the run. */
    async decide(pipelineId: string, enabled: boolean, provider: string, headers: WebhookHeaders, payload: unknown, id: string): Promise<WebhookResult> {
      const base = { deliveryId: id, provider, triggered: false, runId: null };
      const normalized = normalizeEvent(provider as never, headers, payload);
      if (!normalized.ok) return { ...base, reason: normalized.ignored, event: null };
      const event = normalized.event;
      if (!enabled) return { ...base, reason: 'the pipeline is disabled', event };
      const matched = await match(pipelineId, event);
      if (!matched.ok) return { ...base, reason: matched.reason, event };
      try {
        const run = await deps.runs.trigger(
          SYSTEM,
          pipelineId,
          { ref: event.ref, commitSha: event.commitSha ?? undefined, triggeredBy: event.actor ?? provider, requestId: `webhook:${id}`, event: event.event },
          'event',
        );
        return { ...base, triggered: true, runId: run.runId, reason: null, event };
      } catch (err) {
        // A definition that cannot run at that commit is an answer, not a server fault.
        if (err instanceof AppError && err.status < 500) return { ...base, reason: err.message, event };
        throw err;
      }
    },
  };
}

export type WebhookService = ReturnType<typeof createWebhookService>;
