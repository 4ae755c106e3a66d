// Schemas of the blocks shared by pipeline, job and step: retry, agent selector, source,
// approval, notify, matrix and triggers (CONTRACT §6).
import * as v from 'valibot';
import { CronExpressionParser } from 'cron-parser';
import { describeValue } from './issues';
import {
  canonicalKeys, delayDuration, flag, list, mapping, nonEmptyText, oneOrMany, plainObject, pluginRef,
  positiveInt, text, timeoutDuration, argsMap, variableMap, catchupDuration,
} from './schema-kit';

const got = (issue: { input: unknown }): string => `got ${describeValue(issue.input)}`;

export const retrySchema = mapping({ maxAttempts: v.optional(positiveInt(100)), delay: v.optional(delayDuration) }, 'retry');

const labelKey = v.pipe(nonEmptyText, v.regex(/^[^\s=]+$/, 'must be a label name without spaces or ='));
const labelMap = v.pipe(plainObject('labels (name: value)'), v.record(labelKey, v.pipe(v.union([v.string(), v.number(), v.boolean()], (issue) => `must be a string, ${got(issue)}`), v.transform(String))));

const matchExpression = v.pipe(
  mapping(
    {
      key: labelKey,
      operator: v.picklist(['In', 'NotIn', 'Exists', 'DoesNotExist'], (issue) => `must be one of In, NotIn, Exists, DoesNotExist, ${got(issue)}`),
      values: v.optional(list(nonEmptyText)),
    },
    'match expression',
  ),
  v.forward(
    v.partialCheck(
      [['operator'], ['values']],
      (e) => ((e.operator === 'In' || e.operator === 'NotIn') === (e.values !== undefined && e.values.length > 0)),
      'In and NotIn need a non-empty values list; Exists and DoesNotExist take no values',
    ),
    ['values'],
  ),
);

export const agentSelectorSchema = mapping(
  { matchLabels: v.optional(labelMap), matchExpressions: v.optional(list(matchExpression)) },
  'agent selector',
);

export const runsOnSchema = oneOrMany(
  v.pipe(nonEmptyText, v.regex(/^[^\s=]+(=\S*)?$/, 'must be a label such as linux or key=value')),
);

export const sourceSchema = mapping(
  {
    type: v.optional(v.picklist(['git'], (issue) => `must be git (the only source type), ${got(issue)}`)),
    repo: nonEmptyText,
    ref: v.optional(nonEmptyText),
  },
  'source',
);

export const approvalSchema = mapping(
  {
    required: v.optional(flag),
    approvers: v.optional(list(nonEmptyText)),
    timeout: v.optional(timeoutDuration),
    message: v.optional(text),
  },
  'approval',
);

const notifyTarget = mapping({ uses: pluginRef, args: v.optional(argsMap) }, 'notification');

export const notifySchema = mapping(
  { onSuccess: v.optional(list(notifyTarget)), onFailure: v.optional(list(notifyTarget)), onCancel: v.optional(list(notifyTarget)) },
  'notify',
);

export type MatrixValue = string | number | boolean;
export interface MatrixSpec {
  axes: Array<{ name: string; values: MatrixValue[] }>;
  include: Array<Record<string, MatrixValue>>;
  exclude: Array<Record<string, MatrixValue>>;
  maxParallel?: number;
  failFast: boolean;
}

const matrixValue = v.union([v.string(), v.number(), v.boolean()], (issue) => `matrix values must be strings, numbers or booleans, ${got(issue)}`);
const matrixEntry = v.pipe(plainObject('axis values (axis: value)'), v.record(v.string(), matrixValue));
const MATRIX_FIELDS = ['include', 'exclude', 'maxParallel', 'failFast'];

export const matrixSchema = v.pipe(
  plainObject('axes (axis: [values])'),
  canonicalKeys(MATRIX_FIELDS, 'matrix'),
  v.objectWithRest(
    { include: v.optional(list(matrixEntry)), exclude: v.optional(list(matrixEntry)), maxParallel: v.optional(positiveInt(256)), failFast: v.optional(flag) },
    v.pipe(list(matrixValue), v.minLength(1, 'a matrix axis needs at least one value')),
  ),
  v.transform((output): MatrixSpec => {
    const m = output as Record<string, unknown>;
    const spec: MatrixSpec = {
      axes: Object.keys(m).filter((k) => !MATRIX_FIELDS.includes(k)).map((k) => ({ name: k, values: m[k] as MatrixValue[] })),
      include: (m.include as MatrixSpec['include'] | undefined) ?? [],
      exclude: (m.exclude as MatrixSpec['exclude'] | undefined) ?? [],
      failFast: (m.failFast as boolean | undefined) ?? true,
    };
    if (m.maxParallel !== undefined) spec.maxParallel = m.maxParallel as number;
    return spec;
  }),
);

const CRON_MACRO = /^@(yearly|annually|monthly|weekly|daily|hourly)$/;

/** Five fields that cron-parser accepts (ranges checked: "99 * * * *" is not a time), or a macro. */
export function isCronExpression(expression: string): boolean {
  const trimmed = expression.trim();
  if (CRON_MACRO.test(trimmed)) return true;
  if (trimmed.split(/\s+/).length !== 5) return false;
  try {
    CronExpressionParser.parse(trimmed);
    return true;
  } catch {
    return false;
  }
}

/** What a schedule does when a firing comes while the previous run is still going (default skip). */
export const OVERLAP_POLICIES = ['skip', 'bufferOne', 'bufferAll', 'cancelOther', 'terminateOther', 'allowAll'] as const;

export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

const cronOptions = mapping(
  {
    expression: v.pipe(nonEmptyText, v.check(isCronExpression, (issue) => `must be a cron expression such as "0 3 * * *" (5 fields) or @daily, ${got(issue)}`)),
    timezone: v.optional(v.pipe(nonEmptyText, v.check(isTimeZone, (issue) => `must be an IANA time zone such as Europe/Berlin or UTC, ${got(issue)}`))),
    variables: v.optional(variableMap),
    overlap: v.optional(v.picklist(OVERLAP_POLICIES, (issue) => `must be one of ${OVERLAP_POLICIES.join(', ')}, ${got(issue)}`)),
    catchupWindow: v.optional(catchupDuration),
  },
  'cron trigger option',
);

const eventOptions = mapping(
  {
    events: v.pipe(
      list(v.picklist(['push', 'tag', 'pull_request'], (issue) => `must be push, tag or pull_request, ${got(issue)}`)),
      v.minLength(1, 'must list at least one event (push, tag, pull_request)'),
    ),
    branches: v.optional(list(nonEmptyText)),
    paths: v.optional(list(nonEmptyText)),
  },
  'event trigger option',
);

export type TriggerSpec =
  | { type: 'manual' }
  | { type: 'cron'; options: v.InferOutput<typeof cronOptions> }
  | { type: 'event'; options: v.InferOutput<typeof eventOptions> };

export const triggerSchema = v.pipe(
  plainObject('trigger fields'),
  canonicalKeys(['type', 'options'], 'trigger'),
  v.variant(
    'type',
    [
      v.objectWithRest({ type: v.literal('manual'), options: v.optional(mapping({}, 'manual trigger option')) }, v.never()),
      v.objectWithRest({ type: v.literal('cron'), options: cronOptions }, v.never()),
      v.objectWithRest({ type: v.literal('event'), options: eventOptions }, v.never()),
    ],
    (issue) => `must be manual, cron or event, ${got(issue)}`,
  ),
  v.transform((t): TriggerSpec => t as unknown as TriggerSpec),
);
