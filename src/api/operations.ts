// Routes are declared once, with their role, body and query schemas: the same declaration
// registers the Express handler (which validates with those schemas) and describes the route in
// the OpenAPI document, so the two cannot drift apart.
import { Router } from 'express';
import type { Request, Response } from 'express';
import type * as v from 'valibot';
import type { Action } from '../roles';
import { allow } from './auth';
import { parseInput } from './validate';
import { NotFound } from '../errors';

export const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/;

export type Method = 'get' | 'post' | 'put' | 'delete';

export interface OperationSpec<B extends v.GenericSchema | undefined, Q extends v.GenericSchema | undefined> {
  method: Method;
  /** Express-style path below the group's prefix, e.g. `/:pipelineId/spec`. */
  path: string;
  action: Action;
  summary: string;
  body?: B;
  query?: Q;
  /** What a success answers with, when it is not the JSON envelope. */
  produces?: 'text/plain' | 'application/json';
  /** Checks on the raw request that a schema cannot express (run before validation). */
  before?: (req: Request) => void;
  /** Extra error statuses this route can answer besides 400, 401, 403 and 404. */
  conflicts?: boolean;
}

export interface Operation {
  method: Method;
  /** Full path, Express style: `/api/v1/pipelines/:pipelineId`. */
  path: string;
  action: Action;
  summary: string;
  body?: v.GenericSchema;
  query?: v.GenericSchema;
  produces?: string;
  conflicts?: boolean;
}

type Parsed<S> = S extends v.GenericSchema ? v.InferOutput<S> : undefined;

/** A group of routes under one prefix (e.g. `/api/v1/tokens`), recorded in `registry`. */
export function routeGroup(mountPath: string, registry: Operation[]) {
  const router = Router();
  return {
    router,
    add<B extends v.GenericSchema | undefined = undefined, Q extends v.GenericSchema | undefined = undefined>(
      spec: OperationSpec<B, Q>,
      handler: (req: Request, res: Response, input: { body: Parsed<B>; query: Parsed<Q> }) => Promise<void> | void,
    ) {
      registry.push({
        method: spec.method,
        path: mountPath + (spec.path === '/' ? '' : spec.path),
        action: spec.action,
        summary: spec.summary,
        body: spec.body,
        query: spec.query,
        produces: spec.produces,
        conflicts: spec.conflicts,
      });
      const pattern = mountPath + (spec.path === '/' ? '' : spec.path);
      router[spec.method](spec.path, (_req: Request, res: Response, next) => {
        res.locals.route = pattern; // for metrics: the pattern, not the ids
        next();
      }, allow(spec.action), async (req: Request, res: Response) => {
        for (const [name, value] of Object.entries(req.params)) {
          // Our ids are short and plain; anything else (a NUL, a traversal, 5 KB) names nothing.
          if (!ID_PATTERN.test(String(value))) throw new NotFound(`${name} ${JSON.stringify(String(value).slice(0, 80))} not found`);
        }
        spec.before?.(req);
        const body = (spec.body ? parseInput(spec.body, req.body) : undefined) as Parsed<B>;
        const query = (spec.query ? parseInput(spec.query, req.query, 'query') : undefined) as Parsed<Q>;
        await handler(req, res, { body, query });
      });
    },
  };
}
