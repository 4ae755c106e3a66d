// Pipelines and their inline definitions: create, read, list; the spec is checked before anything is written.
import { and, count, desc, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../store/db';
import { pipelineRevisions, pipelineRuns, pipelines } from '../store/schema';
import { Conflict, InvalidInput, NotFound } from '../errors';
import { newId } from '../ids';
import type { Principal } from '../roles';
import { canSeeProject } from '../roles';
import type { SpecChecker, SpecFormat } from './spec-checker';
import { specSaves } from '../store/schema';
import type { SecretBox } from '../git/credentials';
import { parseCredentials, sealCredentials } from '../git/credentials';
import { checkPipelineFilePath, checkRepoUrl } from '../git/repo-url';
import type { GitDefinitions } from './git-definitions';
import type { Invalidations } from '../store/invalidations';
import { createReadCache } from '../store/invalidations';

/** How stale a cached pipeline may be, should a change notice be lost. */
const PIPELINE_CACHE_MS = 30_000;

export interface PipelineServiceOptions {
  /** Reads and saves the definitions of git-backed pipelines. */
  git?: GitDefinitions;
  /** Seals repository credentials. */
  box?: SecretBox;
  allowFileRepos?: boolean;
  /**
   * Called after a pipeline's definition, enablement or existence changed (create, save, update,
   * delete), awaited before the request answers: cron schedules follow the definition.
   */
  onChanged?: (pipelineId: string) => Promise<void>;
  /** With it, GET of a pipeline is served from a cache that every server drops on a change. */
  invalidations?: Invalidations;
}

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
  /** Write-only: sealed at rest, never returned. */
  credentials?: unknown;
  /** Write-only: the secret incoming webhooks must be signed with (null removes it). */
  webhookSecret?: string | null;
  enabled?: boolean;
}

/** A partial update: any field of a pipeline but its creator and its inline definition. */
export type UpdatePipelineInput = Partial<Omit<CreatePipelineInput, 'createdBy' | 'spec' | 'format'>>;

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
    hasCredentials: row.credentialsSealed !== null,
    hasWebhookSecret: row.webhookSecretSealed !== null,
    enabled: row.enabled,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
    lastRun,
  };
}

export function createPipelineService(db: Db, specs: SpecChecker, options: PipelineServiceOptions = {}) {
  // A pipeline with its last run, as GET shows it; dropped on any change to either, on every server.
  const views = options.invalidations ? createReadCache<{ row: PipelineRow; lastRun: { runId: string; status: string } | null }>({ ttlMs: PIPELINE_CACHE_MS, max: 10_000 }) : null;
  options.invalidations?.on((key) => key.startsWith('pipeline:') && views?.delete(key.slice('pipeline:'.length)));
  const changed = (pipelineId: string) => options.invalidations?.announce(`pipeline:${pipelineId}`);

  /** repoUrl, pipelineFilePath and credentials as given, checked; credentials come back sealed. */
  function checkSource(input: { repoUrl?: string | null; pipelineFilePath?: string; credentials?: unknown; webhookSecret?: string | null }) {
    const out: { repoUrl?: string | null; pipelineFilePath?: string; credentialsSealed?: string | null; webhookSecretSealed?: string | null } = {};
    if (input.webhookSecret === null) out.webhookSecretSealed = null;
    else if (input.webhookSecret !== undefined) {
      if (!options.box) throw new InvalidInput('webhookSecret: this server cannot store secrets');
      out.webhookSecretSealed = options.box.seal(input.webhookSecret);
    }
    if (input.repoUrl) {
      const url = checkRepoUrl(input.repoUrl, { allowFileRepos: options.allowFileRepos ?? false });
      if (!url.ok) throw new InvalidInput(`repoUrl: ${url.message}`, [{ path: 'repoUrl', message: url.message }]);
      out.repoUrl = url.url;
    } else if (input.repoUrl === null) out.repoUrl = null;
    if (input.pipelineFilePath !== undefined) {
      const path = checkPipelineFilePath(input.pipelineFilePath);
      if (!path.ok) throw new InvalidInput(`pipelineFilePath: ${path.message}`, [{ path: 'pipelineFilePath', message: path.message }]);
      out.pipelineFilePath = path.path;
    }
    if (input.credentials === null) out.credentialsSealed = null;
    else if (input.credentials !== undefined) {
      if (!options.box) throw new InvalidInput('credentials: this server cannot store credentials');
      let parsed;
      try {
        parsed = parseCredentials(input.credentials);
      } catch (err) {
        throw new InvalidInput(`credentials: ${(err as Error).message}`, [{ path: 'credentials', message: (err as Error).message }]);
      }
      out.credentialsSealed = sealCredentials(options.box, parsed);
    }
    return out;
  }

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

  function gitOf(): GitDefinitions {
    if (!options.git) throw new InvalidInput('repoUrl: this server does not serve git-backed pipelines');
    return options.git;
  }

  /**
   * A git-backed save: checked first, then under the pipeline's row lock (one save of a pipeline at
   * a time, across servers) a repeated requestId answers with its first result, or the commit is
   * pushed and its result kept.
   */
  async function saveGitSpec(principal: Principal, row: PipelineRow, input: SaveSpecInput): Promise<SaveSpecResult> {
    specs.compileOrReject(input.spec, input.format);
    return db.transaction(async (tx) => {
      await tx.select({ id: pipelines.pipelineId }).from(pipelines).where(eq(pipelines.pipelineId, row.pipelineId)).for('update');
      if (input.requestId) {
        const [earlier] = await tx
          .select({ result: specSaves.result })
          .from(specSaves)
          .where(and(eq(specSaves.pipelineId, row.pipelineId), eq(specSaves.requestId, input.requestId)));
        if (earlier) return earlier.result as unknown as SaveSpecResult;
      }
      const result = await gitOf().save(row, input, input.editor ?? principal.name);
      if (input.requestId) await tx.insert(specSaves).values({ pipelineId: row.pipelineId, requestId: input.requestId, result: result as unknown as Record<string, unknown> });
      await tx.update(pipelines).set({ updatedAt: new Date() }).where(eq(pipelines.pipelineId, row.pipelineId));
      return result;
    });
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
      const source = checkSource(input);
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
            repoUrl: source.repoUrl ?? null,
            defaultBranch: input.defaultBranch ?? 'main',
            pipelineFilePath: source.pipelineFilePath ?? '.arcentra/pipeline.yaml',
            credentialsSealed: source.credentialsSealed ?? null,
            webhookSecretSealed: source.webhookSecretSealed ?? null,
            enabled: input.enabled ?? true,
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
      await options.onChanged?.(pipelineId);
      return toPipelineView(await load(principal, pipelineId), null);
    },

    async get(principal: Principal, pipelineId: string) {
      const cached = views?.get(pipelineId);
      if (cached && canSeeProject(principal, cached.row.projectId)) return toPipelineView(cached.row, cached.lastRun);
      const row = await load(principal, pipelineId);
      const lastRun = await lastRunOf(row.pipelineId);
      views?.set(pipelineId, { row, lastRun });
      return toPipelineView(row, lastRun);
    },

    /** This pipeline's cached view is out of date (a run of it moved, or a run was recorded). */
    forget(pipelineId: string) {
      views?.delete(pipelineId);
    },
    changed,

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
      const set: Partial<PipelineRow> = { updatedAt: new Date(), ...checkSource(patch) };
      for (const key of ['name', 'description', 'defaultBranch', 'saveMode', 'prTargetBranch', 'metadata', 'enabled'] as const) {
        if (patch[key] !== undefined) (set as Record<string, unknown>)[key] = patch[key];
      }
      try {
        await db.update(pipelines).set(set).where(eq(pipelines.pipelineId, pipelineId));
      } catch (err) {
        if (isUniqueViolation(err)) throw new Conflict(`a pipeline named "${patch.name}" already exists in project ${row.projectId}`);
        throw err;
      }
      await changed(pipelineId);
      // A different branch, file or repository may mean different triggers; so may enabling.
      if (['enabled', 'repoUrl', 'defaultBranch', 'pipelineFilePath'].some((k) => (patch as Record<string, unknown>)[k] !== undefined)) await options.onChanged?.(pipelineId);
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
      await changed(pipelineId);
      await options.onChanged?.(pipelineId);
    },

    /**
     * Saves a new revision of an inline definition: checked first (400, nothing written), then only
     * on top of `expectedHeadCommitSha` (409 with the current head otherwise). A repeated
     * `requestId` answers with the revision it made the first time.
     */
    async saveSpec(principal: Principal, pipelineId: string, input: SaveSpecInput): Promise<SaveSpecResult> {
      const row = await load(principal, pipelineId);
      if (row.repoUrl) {
        const saved = await saveGitSpec(principal, row, input);
        await changed(pipelineId);
        if (saved.saveMode === 'direct') await options.onChanged?.(pipelineId);
        return saved;
      }
      checkSaveMode(row.repoUrl, row.saveMode);
      specs.compileOrReject(input.spec, input.format);
      const result = (revisionId: string): SaveSpecResult => ({ commitSha: revisionId, branch: null, saveMode: 'direct', prUrl: null, prBranch: null });
      const saved = await db.transaction(async (tx) => {
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
      await changed(pipelineId);
      await options.onChanged?.(pipelineId);
      return saved;
    },

    /** GET …/spec: the current definition and the revision (or commit) it is at. */
    async getSpec(principal: Principal, pipelineId: string) {
      const row = await load(principal, pipelineId);
      if (row.repoUrl) {
        const found = await gitOf().read(row);
        return { spec: found.spec, format: found.format, headCommitSha: found.commitSha, branch: found.branch, pipelineFilePath: found.pipelineFilePath };
      }
      if (!row.currentRevisionId) throw new NotFound(`pipeline ${pipelineId} has no definition yet`);
      const [revision] = await db.select().from(pipelineRevisions).where(eq(pipelineRevisions.revisionId, row.currentRevisionId));
      return { spec: revision.spec, format: revision.format, headCommitSha: revision.revisionId, branch: null, pipelineFilePath: null };
    },

    /** The definition a recorded run was made from (its revision, or its commit), for a restart. */
    async definitionOfRun(pipelineId: string, commitSha: string | null) {
      const [row] = await db.select().from(pipelines).where(eq(pipelines.pipelineId, pipelineId));
      if (!row || row.deletedAt || !commitSha) return null;
      if (row.repoUrl) {
        const found = await gitOf().read(row, { commitSha });
        return { row, definition: { spec: found.spec as unknown, format: found.format as SpecFormat } };
      }
      const [revision] = await db.select().from(pipelineRevisions).where(eq(pipelineRevisions.revisionId, commitSha));
      return revision ? { row, definition: { spec: revision.spec, format: revision.format as SpecFormat } } : null;
    },

    /**
     * The definition a run is made from: an inline pipeline's current revision, or a git-backed
     * pipeline's file at `ref` (default: defaultBranch) or at `commitSha`.
     */
    async definitionFor(principal: Principal, pipelineId: string, at: { ref?: string; commitSha?: string } = {}) {
      const row = await load(principal, pipelineId);
      if (row.repoUrl) {
        const found = await gitOf().read(row, at);
        return { row, definition: { spec: found.spec as unknown, format: found.format as SpecFormat, commitSha: found.commitSha } };
      }
      if (!row.currentRevisionId) return { row, definition: null };
      const [revision] = await db.select().from(pipelineRevisions).where(eq(pipelineRevisions.revisionId, row.currentRevisionId));
      return { row, definition: revision ? { spec: revision.spec, format: revision.format as SpecFormat, commitSha: revision.revisionId } : null };
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
