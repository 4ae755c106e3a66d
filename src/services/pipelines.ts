// Pipelines and their inline definitions: create, read, list; the spec is checked before anything is written.
import { and, count, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../store/db';
import { pipelineRevisions, pipelineRuns, pipelines } from '../store/schema';
import { Conflict, InvalidInput, NotFound } from '../errors';
import { newId } from '../ids';
import type { Principal } from '../roles';
import { canSeeProject } from '../roles';
import type { SpecChecker } from './spec-checker';

export type PipelineRow = typeof pipelines.$inferSelect;

export interface CreatePipelineInput {
  projectId: string;
  name: string;
  description?: string;
  repoUrl?: string | null;
  defaultBranch?: string;
  pipelineFilePath?: string;
  saveMode?: 'direct' | 'pr';
  prTargetBranch?: string | null;
  metadata?: Record<string, unknown>;
  createdBy?: string;
  spec?: unknown;
  format?: 'yaml' | 'yml' | 'json';
}

export interface UpdatePipelineInput {
  projectId?: string;
  name?: string;
  description?: string;
  repoUrl?: string | null;
  defaultBranch?: string;
  pipelineFilePath?: string;
  saveMode?: 'direct' | 'pr';
  prTargetBranch?: string | null;
  metadata?: Record<string, unknown>;
}

export interface SaveSpecInput {
  spec: unknown;
  format?: 'yaml' | 'yml' | 'json';
  expectedHeadCommitSha?: string | null;
  commitMessage?: string;
  requestId?: string;
  editor?: string;
}

export interface SaveSpecResult {
  commitSha: string;
  branch: string | null;
  saveMode: 'direct' | 'pr';
  prUrl: string | null;
  prBranch: string | null;
}

const ACTIVE_RUN_STATUSES = ['pending', 'running', 'paused'];

/** `saveMode: pr` needs a repository to open the pull request in. */
function checkSaveMode(repoUrl: string | null, saveMode: string) {
  if (!repoUrl && saveMode === 'pr') {
    throw new InvalidInput('saveMode: pr needs a git-backed pipeline (a repoUrl); an inline pipeline saves directly', [{ path: 'saveMode', message: 'pr needs repoUrl' }]);
  }
}

export function toPipelineView(row: PipelineRow, lastRun: { runId: string; status: string } | null) {
  return {
    pipelineId: row.pipelineId,
    projectId: row.projectId,
    name: row.name,
    description: row.description,
    repoUrl: row.repoUrl,
    defaultBranch: row.defaultBranch,
    pipelineFilePath: row.pipelineFilePath,
    saveMode: row.saveMode,
    prTargetBranch: row.prTargetBranch,
    metadata: row.metadata,
    createdBy: row.createdBy,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastRun,
  };
}

export function createPipelineService(db: Db, specs: SpecChecker) {
  async function lastRunOf(pipelineId: string) {
    const [run] = await db
      .select({ runId: pipelineRuns.runId, status: pipelineRuns.status })
      .from(pipelineRuns)
      .where(eq(pipelineRuns.pipelineId, pipelineId))
      .orderBy(desc(pipelineRuns.number))
      .limit(1);
    return run ?? null;
  }

  /** The pipeline as the principal may see it: another project's pipeline is "not found". */
  async function load(principal: Principal, pipelineId: string): Promise<PipelineRow> {
    const [row] = await db
      .select()
      .from(pipelines)
      .where(and(eq(pipelines.pipelineId, pipelineId), isNull(pipelines.deletedAt)));
    if (!row || !canSeeProject(principal, row.projectId)) throw new NotFound(`pipeline ${pipelineId} not found`);
    return row;
  }

  return {
    load,

    async create(principal: Principal, input: CreatePipelineInput) {
      if (!canSeeProject(principal, input.projectId)) throw new NotFound(`project ${input.projectId} not found`);
      const inline = !input.repoUrl;
      if (!inline && input.spec !== undefined) {
        throw new InvalidInput('spec: a git-backed pipeline reads its definition from the repository; save it with …/spec/save', [
          { path: 'spec', message: 'not allowed with repoUrl' },
        ]);
      }
      checkSaveMode(input.repoUrl ?? null, input.saveMode ?? 'direct');
      if (input.spec !== undefined) specs.compileOrReject(input.spec, input.format);
      const pipelineId = newId('pl');
      const revisionId = input.spec !== undefined ? newId('rev') : null;
      try {
        await db.transaction(async (tx) => {
          await tx.insert(pipelines).values({
            pipelineId,
            projectId: input.projectId,
            name: input.name,
            description: input.description ?? '',
            repoUrl: input.repoUrl ?? null,
            defaultBranch: input.defaultBranch ?? 'main',
            pipelineFilePath: input.pipelineFilePath ?? '.arcentra/pipeline.yaml',
            saveMode: input.saveMode ?? 'direct',
            prTargetBranch: input.prTargetBranch ?? null,
            metadata: input.metadata ?? {},
            createdBy: input.createdBy ?? principal.name,
            currentRevisionId: revisionId,
          });
          if (revisionId) {
            await tx.insert(pipelineRevisions).values({
              revisionId,
              pipelineId,
              spec: input.spec,
              format: input.format ?? 'yaml',
              commitMessage: 'create pipeline',
              editor: input.createdBy ?? principal.name,
            });
          }
        });
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`a pipeline named "${input.name}" already exists in project ${input.projectId}`);
        throw err;
      }
      return toPipelineView(await load(principal, pipelineId), null);
    },

    async get(principal: Principal, pipelineId: string) {
      const row = await load(principal, pipelineId);
      return toPipelineView(row, await lastRunOf(row.pipelineId));
    },

    async list(principal: Principal, q: { projectId?: string; name?: string; page: number; pageSize: number }) {
      const filters = [isNull(pipelines.deletedAt)];
      if (q.projectId) filters.push(eq(pipelines.projectId, q.projectId));
      if (q.name) filters.push(eq(pipelines.name, q.name));
      if (principal.projectIds !== null) filters.push(inArray(pipelines.projectId, principal.projectIds.length ? principal.projectIds : ['']));
      const where = and(...filters);
      const [{ total }] = await db.select({ total: count() }).from(pipelines).where(where);
      const rows = await db
        .select()
        .from(pipelines)
        .where(where)
        .orderBy(desc(pipelines.createdAt), desc(pipelines.pipelineId))
        .limit(q.pageSize)
        .offset((q.page - 1) * q.pageSize);
      const list = await Promise.all(rows.map(async (r) => toPipelineView(r, await lastRunOf(r.pipelineId))));
      return { list, total, page: q.page, pageSize: q.pageSize };
    },

    /** PUT: a partial update; the name stays unique in its project. */
    async update(principal: Principal, pipelineId: string, patch: UpdatePipelineInput) {
      const row = await load(principal, pipelineId);
      if (patch.projectId !== undefined && patch.projectId !== row.projectId) {
        throw new InvalidInput('projectId: a pipeline cannot move to another project', [{ path: 'projectId', message: 'cannot be changed' }]);
      }
      const repoUrl = patch.repoUrl !== undefined ? patch.repoUrl : row.repoUrl;
      checkSaveMode(repoUrl, patch.saveMode ?? row.saveMode);
      const set: Partial<PipelineRow> = { updatedAt: new Date() };
      for (const key of ['name', 'description', 'repoUrl', 'defaultBranch', 'pipelineFilePath', 'saveMode', 'prTargetBranch', 'metadata'] as const) {
        if (patch[key] !== undefined) (set as Record<string, unknown>)[key] = patch[key];
      }
      try {
        await db.update(pipelines).set(set).where(eq(pipelines.pipelineId, pipelineId));
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`a pipeline named "${patch.name}" already exists in project ${row.projectId}`);
        throw err;
      }
      return toPipelineView(await load(principal, pipelineId), await lastRunOf(pipelineId));
    },

    /** Runs of the pipeline that have not finished. */
    async activeRuns(principal: Principal, pipelineId: string) {
      await load(principal, pipelineId);
      return db
        .select({ runId: pipelineRuns.runId, status: pipelineRuns.status })
        .from(pipelineRuns)
        .where(and(eq(pipelineRuns.pipelineId, pipelineId), inArray(pipelineRuns.status, ACTIVE_RUN_STATUSES)));
    },

    /**
     * Deletes the pipeline (its past runs stay readable by run id). Refused while a run is active,
     * unless `force` (the caller has asked those runs to stop). The row lock is the one trigger takes,
     * so no run can start in between.
     */
    async remove(principal: Principal, pipelineId: string, force: boolean) {
      await load(principal, pipelineId);
      await db.transaction(async (tx) => {
        await tx.select({ id: pipelines.pipelineId }).from(pipelines).where(eq(pipelines.pipelineId, pipelineId)).for('update');
        const active = await tx
          .select({ runId: pipelineRuns.runId })
          .from(pipelineRuns)
          .where(and(eq(pipelineRuns.pipelineId, pipelineId), inArray(pipelineRuns.status, ACTIVE_RUN_STATUSES)));
        if (active.length && !force) {
          throw new Conflict(`pipeline ${pipelineId} has ${active.length} active run(s); stop them first or delete with ?force=true`, { activeRunIds: active.map((r) => r.runId) });
        }
        await tx.update(pipelines).set({ deletedAt: new Date(), updatedAt: new Date() }).where(eq(pipelines.pipelineId, pipelineId));
      });
    },

    /**
     * Saves a new revision of an inline definition: checked first (400, nothing written), then only
     * on top of `expectedHeadCommitSha` (409 with the current head otherwise). A repeated
     * `requestId` answers with the revision it made the first time.
     */
    async saveInlineSpec(principal: Principal, pipelineId: string, input: SaveSpecInput): Promise<SaveSpecResult> {
      const row = await load(principal, pipelineId);
      if (row.repoUrl) throw new InvalidInput('saving a git-backed definition is not available in this build');
      checkSaveMode(row.repoUrl, row.saveMode);
      specs.compileOrReject(input.spec, input.format);
      const result = (revisionId: string): SaveSpecResult => ({ commitSha: revisionId, branch: null, saveMode: 'direct', prUrl: null, prBranch: null });
      return db.transaction(async (tx) => {
        // Serializes saves (and triggers) of this pipeline: the head check and the write are one step.
        const [locked] = await tx.select({ head: pipelines.currentRevisionId }).from(pipelines).where(eq(pipelines.pipelineId, pipelineId)).for('update');
        if (input.requestId) {
          const [earlier] = await tx
            .select({ revisionId: pipelineRevisions.revisionId })
            .from(pipelineRevisions)
            .where(and(eq(pipelineRevisions.pipelineId, pipelineId), eq(pipelineRevisions.requestId, input.requestId)));
          if (earlier) return result(earlier.revisionId);
        }
        if ((input.expectedHeadCommitSha ?? null) !== locked.head) {
          throw new Conflict(
            locked.head
              ? `the definition has moved on: it is at ${locked.head}, not ${input.expectedHeadCommitSha ?? '(none given)'}; reload it and save again`
              : `the pipeline has no definition yet; save without expectedHeadCommitSha`,
            { currentHeadCommitSha: locked.head },
          );
        }
        const revisionId = newId('rev');
        await tx.insert(pipelineRevisions).values({
          revisionId,
          pipelineId,
          parentRevisionId: locked.head,
          spec: input.spec,
          format: input.format ?? 'yaml',
          commitMessage: input.commitMessage ?? '',
          editor: input.editor ?? principal.name,
          requestId: input.requestId ?? null,
        });
        await tx.update(pipelines).set({ currentRevisionId: revisionId, updatedAt: new Date() }).where(eq(pipelines.pipelineId, pipelineId));
        return result(revisionId);
      });
    },

    /** GET …/spec: the current definition and the revision it is at. */
    async getSpec(principal: Principal, pipelineId: string) {
      const row = await load(principal, pipelineId);
      if (row.repoUrl) throw new InvalidInput('reading a git-backed definition is not supported yet; it is read from the repository at trigger time in a later release');
      if (!row.currentRevisionId) throw new NotFound(`pipeline ${pipelineId} has no definition yet`);
      const [revision] = await db.select().from(pipelineRevisions).where(eq(pipelineRevisions.revisionId, row.currentRevisionId));
      return { spec: revision.spec, format: revision.format, headCommitSha: revision.revisionId, branch: null, pipelineFilePath: null };
    },

    /** The current definition of an inline pipeline. */
    async currentSpec(principal: Principal, pipelineId: string) {
      const row = await load(principal, pipelineId);
      if (!row.currentRevisionId) return { row, revision: null };
      const [revision] = await db.select().from(pipelineRevisions).where(eq(pipelineRevisions.revisionId, row.currentRevisionId));
      return { row, revision: revision ?? null };
    },
  };
}

export type PipelineService = ReturnType<typeof createPipelineService>;

export function isUniqueViolation(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; e && depth < 4; depth++) {
    if ((e as { code?: string }).code === '23505') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
