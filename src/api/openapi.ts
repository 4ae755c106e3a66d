// The OpenAPI 3.1 document of /api/v1, generated from the route declarations and their valibot
// schemas (src/api/operations.ts), so what it says is what the handlers check.
import { toJsonSchema } from '@valibot/to-json-schema';
import type * as v from 'valibot';
import { minimumRole } from '../roles';
import type { Operation } from './operations';

type Json = Record<string, unknown>;

/** valibot -> JSON Schema 2020-12 (OpenAPI 3.1's dialect); a transform documents its input side. */
function schemaOf(schema: v.GenericSchema): Json {
  const json = toJsonSchema(schema, { target: 'draft-2020-12', errorMode: 'ignore' }) as Json;
  delete json.$schema;
  return json;
}

const envelope = (detail?: Json): Json => ({
  type: 'object',
  required: ['code', 'msg', 'timestamp'],
  properties: { code: { const: 0 }, msg: { const: 'success' }, ...(detail ? { detail } : {}), timestamp: { type: 'integer', description: 'Unix seconds' } },
});

const errorResponse = (description: string) => ({ description, content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } });

export function openApiDocument(operations: Operation[], version = '0.1.0'): Json {
  const paths: Record<string, Json> = {};
  for (const op of operations) {
    const path = op.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const parameters: Json[] = [...op.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    if (op.query) {
      const q = schemaOf(op.query);
      const required = new Set((q.required as string[] | undefined) ?? []);
      for (const [name, schema] of Object.entries((q.properties as Record<string, Json> | undefined) ?? {})) {
        parameters.push({ name, in: 'query', required: required.has(name), schema });
      }
    }
    const responses: Json = {
      200: op.produces
        ? { description: 'OK', content: { [op.produces]: { schema: op.produces === 'text/plain' ? { type: 'string' } : { type: 'object' } } } }
        : { description: 'OK', content: { 'application/json': { schema: envelope({ type: 'object' }) } } },
      401: { $ref: '#/components/responses/Unauthorized' },
      403: { $ref: '#/components/responses/Forbidden' },
      404: { $ref: '#/components/responses/NotFound' },
    };
    if (op.body || op.query) responses[400] = { $ref: '#/components/responses/BadRequest' };
    if (op.body) responses[413] = { $ref: '#/components/responses/TooLarge' };
    if (op.conflicts) responses[409] = { $ref: '#/components/responses/Conflict' };
    const operation: Json = {
      operationId: `${op.method}${path.replace(/\/api\/v1/, '').replace(/[{}]/g, '').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c: string | undefined) => (c ? c.toUpperCase() : ''))}`,
      summary: op.summary,
      description: `Needs a token with role ${minimumRole(op.action)} or above.`,
      parameters,
      responses,
      'x-arcentra-role': minimumRole(op.action),
    };
    if (op.body) operation.requestBody = { required: true, content: { 'application/json': { schema: schemaOf(op.body) } } };
    paths[path] = { ...(paths[path] ?? {}), [op.method]: operation };
  }
  paths['/api/v1/openapi.json'] = { get: { operationId: 'getOpenApi', summary: 'This document', responses: { 200: { description: 'OpenAPI 3.1', content: { 'application/json': {} } }, 401: { $ref: '#/components/responses/Unauthorized' } } } };
  for (const [path, summary] of [
    ['/healthz', 'Alive'],
    ['/readyz', 'Database migrated, Temporal reachable, worker polling (503 otherwise)'],
  ] as const) {
    paths[path] = { get: { operationId: path.slice(1), summary, security: [], responses: { 200: { description: 'OK' }, 503: { description: 'Not ready' } } } };
  }
  paths['/api/v1/webhooks/{pipelineId}'] = {
    post: {
      operationId: 'postWebhook',
      summary: "A provider's event (GitHub, GitLab, Gitea or generic): signed with the pipeline's webhook secret instead of a bearer token",
      security: [],
      parameters: [
        { name: 'pipelineId', in: 'path', required: true, schema: { type: 'string' } },
        ...['X-Hub-Signature-256', 'X-Gitlab-Token', 'X-Gitea-Signature', 'X-Arcentra-Signature'].map((name) => ({ name, in: 'header', required: false, schema: { type: 'string' } })),
      ],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object', description: "the provider's own payload, signed as sent" } } } },
      responses: {
        200: { description: 'Handled: {triggered, runId, reason, event, deliveryId, duplicate?}', content: { 'application/json': { schema: envelope({ type: 'object' }) } } },
        400: { $ref: '#/components/responses/BadRequest' },
        401: errorResponse('Bad or missing signature, or no webhook secret set'),
        404: { $ref: '#/components/responses/NotFound' },
        413: { $ref: '#/components/responses/TooLarge' },
      },
    },
  };
  paths['/metrics'] = { get: { operationId: 'metrics', summary: 'Prometheus metrics of this process', security: [], responses: { 200: { description: 'Prometheus text format', content: { 'text/plain': {} } } } } };
  return {
    openapi: '3.1.0',
    info: { title: 'Arcentra pipeline API', version, description: 'Pipelines, definitions, runs, logs, approvals, agents and tokens. Every /api/v1 route takes Authorization: Bearer <token>.' },
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['code', 'errMsg', 'path', 'timestamp'],
          properties: {
            code: { type: 'integer', description: 'the HTTP status' },
            errMsg: { type: 'string' },
            path: { type: 'string', description: 'the request path' },
            details: { description: 'e.g. [{path, message, line, column}] for a spec, or {currentHeadCommitSha} for a 409' },
            timestamp: { type: 'integer', description: 'Unix seconds' },
          },
        },
      },
      responses: {
        BadRequest: errorResponse('Bad input: the message names the field and the reason'),
        Unauthorized: errorResponse('Missing, malformed, unknown, revoked or expired token'),
        Forbidden: errorResponse("The token's role may not do this"),
        NotFound: errorResponse('No such thing, or it belongs to a project the token cannot see'),
        Conflict: errorResponse('The state does not allow it (details may say why)'),
        TooLarge: errorResponse('The body is over 1 MiB'),
      },
    },
  };
}
