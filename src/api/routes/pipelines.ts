// /api/v1/pipelines: thin handlers over the pipeline and run services.
import type { Request, Router } from 'express';
import * as v from 'valibot';
import { Conflict, InvalidInput } from '../../errors';
import type { PipelineService } from '../../services/pipelines';
import type { RunService } from '../../services/runs';
import type { ApprovalService } from '../../services/approvals';
import type { SpecChecker } from '../../services/spec-checker';
import { countJobsAndStages } from '../../spec';
import { RUN_STATUSES } from '../../statuses';
import { pipelineJsonSchema } from '../../spec/json-schema';
import { principalOf } from '../auth';
import { sendOk } from '../envelope';
import { routeGroup } from '../operations';
import type { Operation } from '../operations';
import { Pagination } from '../validate';

const Format = v.picklist(['yaml', 'yml', 'json'], 'must be one of yaml, yml, json');
const Name = v.pipe(v.string('must be a string'), v.trim(), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters'));
const OptionalText = v.optional(v.pipe(v.string('must be a string'), v.maxLength(2000, 'must be at most 2000 characters')));

/** The fields a pipeline is made of, shared by create (with its required ones) and update (all optional). */
const PipelineFields = {
  description: OptionalText,
  repoUrl: v.optional(v.nullable(v.pipe(v.string('must be a string'), v.maxLength(2000)))),
  defaultBranch: v.optional(Name),
  pipelineFilePath: v.optional(Name),
  saveMode: v.optional(v.picklist(['direct', 'pr'], 'must be direct or pr')),
  prTargetBranch: v.optional(v.nullable(Name)),
  metadata: v.optional(v.record(v.string(), v.unknown(), 'must be an object')),
  credentials: v.optional(v.nullable(v.unknown())),
  webhookSecret: v.optional(
    v.nullable(v.pipe(v.string('must be a string'), v.minLength(16, 'must be at least 16 characters'), v.maxLength(512, 'must be at most 512 characters'))),
  ),
  enabled: v.optional(v.boolean('must be true or false')),
};

const CreatePipeline = v.object({
  projectId: Name,
  name: Name,
  ...PipelineFields,
  createdBy: OptionalText,
  spec: v.optional(v.unknown()),
  format: v.optional(Format),
});

const UpdatePipeline = v.object({ projectId: v.optional(Name), name: v.optional(Name), ...PipelineFields });
const DeleteQuery = v.object({ force: v.optional(v.picklist(['true', 'false', '1', '0'], 'must be true or false')) });
const SaveSpec = v.object({
  spec: v.pipe(v.unknown(), v.check((x) => x !== undefined && x !== null, 'is required: send the pipeline definition as a structured object (or YAML/JSON text)')),
  format: v.optional(Format),
  expectedHeadCommitSha: v.optional(v.nullable(v.pipe(v.string('must be a string'), v.maxLength(200, 'must be at most 200 characters')))),
  commitMessage: v.optional(v.pipe(v.string('must be a string'), v.maxLength(10_000, 'must be at most 10000 characters'))),
  requestId: v.optional(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters'))),
  editor: OptionalText,
});
const Variables = v.record(v.string(), v.union([v.string(), v.number(), v.boolean()], 'must be a string, number or boolean'), 'must be an object');
const Trigger = v.object({
  variables: v.optional(Variables),
  triggeredBy: OptionalText,
  requestId: v.optional(v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'), v.maxLength(200, 'must be at most 200 characters'))),
  ref: v.optional(v.pipe(v.string('must be a string'), v.maxLength(500))),
  commitSha: v.optional(v.pipe(v.string('must be a string'), v.regex(/^[0-9a-f]{7,64}$/i, 'must be a hex commit sha'))),
});
const ValidateSpec = v.object({
  spec: v.pipe(v.unknown(), v.check((x) => x !== undefined && x !== null, 'is required: send the pipeline definition as a structured object (or YAML/JSON text)')),
  format: v.optional(Format),
});
const RunControl = v.object({ reason: OptionalText, operator: OptionalText });
const ListPipelines = v.object({ projectId: v.optional(v.string()), name: v.optional(v.string()), ...Pagination });
const ListRuns = v.object({ status: v.optional(v.picklist(RUN_STATUSES, `must be one of ${RUN_STATUSES.join(', ')}`)), ...Pagination });
const LogsQuery = v.object({
  fromLine: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1, 'must be at least 1')), '1'),
  limit: v.optional(v.pipe(v.string(), v.transform(Number), v.integer('must be a whole number'), v.minValue(1), v.maxValue(10000, 'must be at most 10000')), '1000'),
  download: v.optional(v.string()),
});

/** A named path parameter (Express types them loosely). */
function param(req: Request, name: string): string {
  return String(req.params[name]);
}

function rejectLegacyContent(body: unknown) {
  if (body && typeof body === 'object' && 'content' in body) {
    throw new InvalidInput('content: definitions are structured only; send the pipeline as a structured "spec" object', [
      { path: 'content', message: 'the legacy text field is not accepted; send "spec"' },
    ]);
  }
}

export function pipelineRoutes(deps: { pipelines: PipelineService; runs: RunService; specs: SpecChecker; approvals: ApprovalService }, registry: Operation[]): Router {
  const g = routeGroup('/api/v1/pipelines', registry);
  const noContent = { before: (req: Request) => rejectLegacyContent(req.body) };

  g.add({ method: 'post', path: '/', action: 'edit', summary: 'Create a pipeline (inline with an optional spec, or git-backed)', body: CreatePipeline, conflicts: true, ...noContent }, async (req, res, { body }) => {
    sendOk(res, await deps.pipelines.create(principalOf(req), body));
  });
  g.add({ method: 'get', path: '/', action: 'read', summary: 'List pipelines', query: ListPipelines }, async (req, res, { query }) => {
    sendOk(res, await deps.pipelines.list(principalOf(req), query));
  });
  // Registered before "/:pipelineId" so that "schema.json" and "runs" are never taken for pipeline ids.
  g.add({ method: 'get', path: '/schema.json', action: 'read', summary: 'The JSON Schema of the pipeline spec', produces: 'application/json' }, (_req, res) => {
    res.json(pipelineJsonSchema());
  });
  g.add({ method: 'get', path: '/runs/:runId', action: 'read', summary: 'A run with its tree of JobRuns and StepRuns' }, async (req, res) => {
    sendOk(res, await deps.runs.get(principalOf(req), param(req, 'runId')));
  });
  g.add({ method: 'get', path: '/runs/:runId/approvals', action: 'read', summary: "A run's approval gates" }, async (req, res) => {
    sendOk(res, await deps.approvals.listForRun(principalOf(req), param(req, 'runId')));
  });
  g.add({ method: 'get', path: '/runs/:runId/steps/:stepRunId/logs', action: 'read', summary: "A step's log lines from fromLine (download=1: text/plain)", query: LogsQuery }, async (req, res, { query: q }) => {
    if (q.download === '1' || q.download === 'true') {
      // Streamed page by page: a step of a million lines downloads whole without being held in memory.
      const pages = deps.runs.allLogLines(principalOf(req), param(req, 'runId'), param(req, 'stepRunId'), q.fromLine);
      const first = await pages.next(); // access is checked here, before any byte is sent
      res.type('text/plain');
      for (let page = first; !page.done && !res.destroyed; page = await pages.next()) {
        if (!res.write(page.value.map((l) => l.content + '\n').join(''))) await new Promise((r) => (res.once('drain', r), res.once('close', r)));
      }
      res.end();
      return;
    }
    sendOk(res, await deps.runs.logs(principalOf(req), param(req, 'runId'), param(req, 'stepRunId'), q.fromLine, q.limit));
  });
  g.add({ method: 'get', path: '/:pipelineId', action: 'read', summary: 'A pipeline' }, async (req, res) => {
    sendOk(res, await deps.pipelines.get(principalOf(req), param(req, 'pipelineId')));
  });
  g.add({ method: 'put', path: '/:pipelineId', action: 'edit', summary: "Update some of a pipeline's fields", body: UpdatePipeline, conflicts: true, ...noContent }, async (req, res, { body }) => {
    sendOk(res, await deps.pipelines.update(principalOf(req), param(req, 'pipelineId'), body));
  });
  g.add({ method: 'delete', path: '/:pipelineId', action: 'edit', summary: 'Delete a pipeline (409 while a run is active, unless force=true stops them)', query: DeleteQuery, conflicts: true }, async (req, res, { query }) => {
    const force = query.force === 'true' || query.force === '1';
    const principal = principalOf(req);
    const pipelineId = param(req, 'pipelineId');
    if (force) {
      // Stop first, then delete: the delete itself re-checks under the pipeline's lock.
      for (const run of await deps.pipelines.activeRuns(principal, pipelineId)) {
        // A run that finished meanwhile is fine; a stop that failed fails the delete (nothing is deleted).
        await deps.runs.control(principal, pipelineId, run.runId, 'stop', { reason: 'pipeline deleted' }).catch((err: unknown) => {
          if (!(err instanceof Conflict)) throw err;
        });
      }
    }
    await deps.pipelines.remove(principal, pipelineId, force);
    sendOk(res);
  });
  g.add({ method: 'get', path: '/:pipelineId/spec', action: 'read', summary: 'The current definition and its head commit' }, async (req, res) => {
    sendOk(res, await deps.pipelines.getSpec(principalOf(req), param(req, 'pipelineId')));
  });
  g.add({ method: 'post', path: '/:pipelineId/spec/validate', action: 'read', summary: 'Check a definition without saving it', body: ValidateSpec, ...noContent }, async (req, res, { body }) => {
    await deps.pipelines.load(principalOf(req), param(req, 'pipelineId'));
    const result = deps.specs.check(body.spec, body.format);
    sendOk(res, { valid: result.valid, errors: result.errors, warnings: result.warnings, ...countJobsAndStages(result) });
  });
  g.add({ method: 'post', path: '/:pipelineId/spec/save', action: 'edit', summary: 'Save a definition on top of expectedHeadCommitSha', body: SaveSpec, conflicts: true, ...noContent }, async (req, res, { body }) => {
    sendOk(res, await deps.pipelines.saveSpec(principalOf(req), param(req, 'pipelineId'), body));
  });
  g.add({ method: 'post', path: '/:pipelineId/trigger', action: 'operate', summary: 'Start a run (one run per requestId)', body: Trigger }, async (req, res, { body }) => {
    sendOk(res, await deps.runs.trigger(principalOf(req), param(req, 'pipelineId'), body));
  });
  g.add({ method: 'get', path: '/:pipelineId/runs', action: 'read', summary: "A pipeline's runs, newest first", query: ListRuns }, async (req, res, { query }) => {
    sendOk(res, await deps.runs.list(principalOf(req), param(req, 'pipelineId'), query));
  });
  for (const action of ['pause', 'resume', 'stop'] as const) {
    g.add({ method: 'post', path: `/:pipelineId/runs/:runId/${action}`, action: 'operate', summary: `${action[0].toUpperCase()}${action.slice(1)} a run`, body: RunControl, conflicts: true }, async (req, res, { body }) => {
      await deps.runs.control(principalOf(req), param(req, 'pipelineId'), param(req, 'runId'), action, body);
      sendOk(res);
    });
  }
  return g.router;
}
