// Fuzz: mutated specs, garbage text, random bytes, huge strings, random structures and random
// expressions. compilePipeline must always answer with a well-formed CompileResult, never throw,
// never fall back to its internal-error net, and take under 100 ms for any single spec.
import { describe, it, expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import type { CompileResult } from '../../src/spec/index';
import {
  bindingEnvironment, checkExpression, emptyContext, evaluate, evaluateCondition, ExpressionError, interpolate, parseExpression, rewriteRunScript,
} from '../../src/spec/index';
import type { ExpressionContext } from '../../src/spec/index';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { prng } from '../support/prng';

const MAX_MS = 100;
const stats = { specs: 0, expressions: 0, maxMs: 0, slowest: '' };

/** Compiles once, timed; a compile over the budget is measured twice more (GC pauses, a busy machine) and the fastest counts. */
function compileTimed(input: unknown, format: 'yaml' | 'yml' | 'json' | undefined, label: string): CompileResult {
  let best = Infinity;
  let result!: CompileResult;
  for (let attempt = 0; attempt < 3 && best >= MAX_MS; attempt++) {
    const started = performance.now();
    result = compilePipeline(input, { format });
    best = Math.min(best, performance.now() - started);
  }
  stats.specs++;
  if (best > stats.maxMs) {
    stats.maxMs = best;
    stats.slowest = label.slice(0, 120);
  }
  expect(best, `${label.slice(0, 200)} took ${best.toFixed(1)} ms`).toBeLessThan(MAX_MS);
  return result;
}


const SEEDS = [
  `namespace: demo.pipeline
version: v1
stages:
  - name: build
    jobs:
      - name: build-go
        steps:
          - name: checkout
            uses: actions/git-checkout@v1
            args:
              ref: \${{ trigger.ref }}
          - name: compile
            uses: actions/go-build@v1
            args:
              go_version: "1.25"
`,
  `namespace: demo.pipeline
version: 1.2.3
variables: {region: eu}
triggers:
  - {type: cron, options: {expression: "0 3 * * *", timezone: UTC}}
  - {type: event, options: {events: [push], branches: [main]}}
jobs:
  - name: build
    matrix: {os: [linux, mac], go: ["1.24", "1.25"], exclude: [{os: mac, go: "1.24"}], include: [{os: win, go: "1.25"}]}
    retry: {max_attempts: 2, delay: 5s}
    runs_on: [linux, arch=arm64]
    steps:
      - name: compile
        run: go build ./... \${{ variables.region }}
        working_directory: src
  - name: test
    depends_on: [build]
    approval: {required: true, approvers: [alice], timeout: 1h}
    steps:
      - {name: test, uses: actions/go-test@v1, action: run, args: {race: true}}
`,
];

const SNIPPETS = ['${{', '}}', ':', ': ', '- ', '[', ']', '{', '}', '&a ', '*a', '\t', '\n', "'", '"', '#', '__proto__', '<<: *a', '!!str ', '? ', '|', '>', '%', '@', '\u0000', '\uFEFF', 'needs: [build]', 'matrix: {a: [1]}', '  ', 'null', '~'];
const KEYS = ['namespace', 'version', 'jobs', 'stages', 'name', 'steps', 'run', 'uses', 'args', 'env', 'needs', 'depends_on', 'matrix', 'include', 'exclude', 'timeout', 'retry', 'max_attempts', 'delay', 'when', 'agentSelector', 'runsOn', 'matchLabels', 'matchExpressions', 'operator', 'values', 'approval', 'required', 'notify', 'on_success', 'triggers', 'type', 'options', 'expression', 'events', 'variables', 'source', 'repo', 'workingDirectory', '__proto__', 'constructor', 'x', ''];

function pick<T>(rand: () => number, list: readonly T[]): T {
  return list[Math.floor(rand() * list.length)];
}

function mutateText(rand: () => number, text: string): string {
  let out = text;
  const edits = 1 + Math.floor(rand() * 6);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rand() * (out.length + 1));
    const op = rand();
    if (op < 0.3) out = out.slice(0, at) + pick(rand, SNIPPETS) + out.slice(at);
    else if (op < 0.5) out = out.slice(0, at) + out.slice(at + 1 + Math.floor(rand() * 8));
    else if (op < 0.65) out = out.slice(0, at) + String.fromCharCode(Math.floor(rand() * 0x3000)) + out.slice(at + 1);
    else if (op < 0.8) {
      const lines = out.split('\n');
      const i = Math.floor(rand() * lines.length);
      lines.splice(Math.floor(rand() * lines.length), 0, lines[i]);
      out = lines.join('\n');
    } else if (op < 0.9) out = out.slice(0, at);
    else out = out.replace(/  /g, rand() < 0.5 ? ' ' : '   ');
  }
  return out;
}

function garbage(rand: () => number): string {
  const length = Math.floor(rand() * 300);
  let out = '';
  for (let i = 0; i < length; i++) out += rand() < 0.5 ? pick(rand, SNIPPETS) : String.fromCharCode(Math.floor(rand() * 128));
  return out;
}

function randomValue(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 6 || r < 0.35) {
    return pick(rand, [
      'x', '', 'v1', '1.2.3', '90s', '1h30m', 'actions/go-build@v1', 'bad@@', '${{ a }}', '${{', '../x', '/abs', 'linux', 'key=value',
      'cron', 'manual', 'event', 'push', 'In', 'Exists', '0 3 * * *', 0, 1, -1, 1.5, 257, 1e308, NaN, Infinity, -0, true, false, null, undefined,
    ] as unknown[]);
  }
  if (r < 0.6) return Array.from({ length: Math.floor(rand() * 5) }, () => randomValue(rand, depth + 1));
  if (r < 0.65) return pick(rand, [new Date(0), new Map([['a', 1]]), new Set([1]), () => 1, Symbol('s'), 10n, Object.create(null), new Uint8Array(2)] as unknown[]);
  const obj: Record<string, unknown> = {};
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) {
    const key = pick(rand, KEYS);
    if (key === '__proto__') Object.defineProperty(obj, key, { value: randomValue(rand, depth + 1), enumerable: true, configurable: true, writable: true });
    else obj[key] = randomValue(rand, depth + 1);
  }
  return obj;
}

/** A valid structured spec with one random subtree replaced. */
function mutateObject(rand: () => number): unknown {
  const spec = JSON.parse(JSON.stringify({
    namespace: 'n',
    version: 'v1',
    jobs: [
      { name: 'a', matrix: { os: ['l', 'm'] }, steps: [{ name: 's', run: 'x' }] },
      { name: 'b', needs: ['a'], retry: { maxAttempts: 2 }, steps: [{ name: 't', uses: 'a/b@v1', args: { k: 1 } }] },
    ],
  })) as Record<string, unknown>;
  let node: unknown = spec;
  for (let d = 0; d < 6; d++) {
    const keys = node !== null && typeof node === 'object' ? Object.keys(node) : [];
    if (keys.length === 0) break;
    const key = pick(rand, keys);
    if (rand() < 0.3 || d === 5) {
      (node as Record<string, unknown>)[key] = randomValue(rand, 3);
      break;
    }
    node = (node as Record<string, unknown>)[key];
  }
  return spec;
}

/** A plain copy of a seed as a structured value. */
function seedValue(rand: () => number): Record<string, unknown> {
  return parseYaml(pick(rand, SEEDS)) as Record<string, unknown>;
}

/** A random container in `root` and one of its keys, walking down from the root. */
function randomSlot(rand: () => number, root: Record<string, unknown>): { parent: Record<string, unknown> | unknown[]; key: string | number } | undefined {
  let parent: Record<string, unknown> | unknown[] = root;
  for (let depth = 0; depth < 12; depth++) {
    const keys: Array<string | number> = Array.isArray(parent) ? parent.map((_, i) => i) : Object.keys(parent);
    if (keys.length === 0) return undefined;
    const key = pick(rand, keys);
    const child = (parent as Record<string | number, unknown>)[key];
    if (rand() < 0.3 || child === null || typeof child !== 'object') return { parent, key };
    parent = child as Record<string, unknown> | unknown[];
  }
  return undefined;
}

const SPELLINGS: Record<string, string> = { continueOnError: 'continue_on_error', needs: 'depends_on', maxAttempts: 'max_attempts', workingDirectory: 'working_directory', runsOn: 'runs_on', agentSelector: 'agent_selector' };

/** A seed with 1–4 fields deleted, retyped, duplicated or buried under deep nesting. */
function structuralMutation(rand: () => number): unknown {
  const spec = seedValue(rand);
  const ops = 1 + Math.floor(rand() * 4);
  for (let n = 0; n < ops; n++) {
    const slot = randomSlot(rand, spec);
    if (!slot) continue;
    const { parent, key } = slot;
    const target = parent as Record<string | number, unknown>;
    const op = rand();
    if (op < 0.25) {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete target[key];
    } else if (op < 0.5) {
      target[key] = pick(rand, [1, -1, 0.5, 'x', '', true, null, [], {}, [1, 'a'], { a: 1 }, '${{ matrix.nope }}', '90s', randomValue(rand, 4)] as unknown[]);
    } else if (op < 0.75) {
      const copy = JSON.parse(JSON.stringify(target[key] ?? null)) as unknown;
      if (Array.isArray(parent)) parent.push(copy);
      else target[typeof key === 'string' && SPELLINGS[key] ? SPELLINGS[key] : `${String(key)}${rand() < 0.5 ? '' : '_'}`] = copy;
    } else {
      let value: unknown = target[key];
      const depth = 10 + Math.floor(rand() * 90);
      for (let d = 0; d < depth; d++) value = rand() < 0.5 ? [value] : { [pick(rand, KEYS) || 'k']: value };
      target[key] = value;
    }
  }
  return spec;
}

/** YAML text of a value; values YAML cannot write become their JSON or plain text instead. */
function toYaml(value: unknown): string {
  try {
    return stringifyYaml(value);
  } catch (err) {
    return `# ${(err as Error).message}\n${String(value)}`;
  }
}

const HUGE_PIECES = ['x', 'abc ', '\n', '${{ trigger.ref }}', '${{ ', ' }}', "'", '"', '\\', ' # ', '$(', ')', '😀', '\t', 'é'];

function hugeString(rand: () => number, length: number): string {
  const parts: string[] = [];
  let size = 0;
  const chunk = Array.from({ length: 64 }, () => pick(rand, HUGE_PIECES)).join('');
  while (size < length) {
    const piece = rand() < 0.9 ? chunk : pick(rand, HUGE_PIECES).repeat(1 + Math.floor(rand() * 1000));
    parts.push(piece);
    size += piece.length;
  }
  return parts.join('').slice(0, length);
}

const EXPR_ATOMS = [
  'null', 'true', 'false', '0', '-1', '1.5', '0xff', '-0x1F', '1e3', '2.5E-2', "''", "'text'", "'it''s'", "'}}'", "'{0} {1}'", "'${{'",
  'trigger', 'trigger.branch', 'trigger.ref', 'trigger.event.labels.*.name', "trigger['ref']", 'variables.region', 'env.HOME', 'env[0]',
  'matrix', 'matrix.os', 'matrix.*', 'secrets.TOKEN', 'pipeline.number', 'pipeline.runId', 'job.status', 'steps', 'steps.a.outputs.x',
  'steps.a.status', "steps['a'].outputs['x']", 'unknown.ctx', 'trigger.nope', 'Trigger.BRANCH', 'steps.later.outputs.x',
];
const EXPR_FUNCTIONS = ['contains', 'startsWith', 'endsWith', 'format', 'join', 'toJSON', 'fromJSON', 'success', 'failure', 'always', 'cancelled', 'nope', 'hashFiles', 'FORMAT'];
const EXPR_OPS = ['==', '!=', '<', '<=', '>', '>=', '&&', '||'];
const EXPR_NOISE = ['(', ')', '[', ']', "'", '"', '.', '*', '!', '=', '&', '|', '$', '{', '}', '\\', '\n', '\u0000', ',', ' ', '-', '+', '#', '${{', '}}', '😀'];

function exprTree(rand: () => number, depth: number): string {
  const r = rand();
  if (depth > 5 || r < 0.3) return pick(rand, EXPR_ATOMS);
  if (r < 0.5) return `${exprTree(rand, depth + 1)} ${pick(rand, EXPR_OPS)} ${exprTree(rand, depth + 1)}`;
  if (r < 0.6) return `!${exprTree(rand, depth + 1)}`;
  if (r < 0.7) return `(${exprTree(rand, depth + 1)})`;
  if (r < 0.75) return `${exprTree(rand, depth + 1)}[${exprTree(rand, depth + 1)}]`;
  const args = Array.from({ length: Math.floor(rand() * 4) }, () => exprTree(rand, depth + 1));
  if (rand() < 0.3) args.unshift(pick(rand, ["'{0}'", "'{0}-{1}'", "'{{x}}'", "'{'", "'[1,2]'", "'{\"a\":1}'"]));
  return `${pick(rand, EXPR_FUNCTIONS)}(${args.join(', ')})`;
}

function randomExpression(rand: () => number): string {
  const r = rand();
  if (r < 0.03) return '('.repeat(30 + Math.floor(rand() * 100)) + '1' + ')'.repeat(Math.floor(rand() * 130));
  if (r < 0.05) return `'${'x'.repeat(4000 + Math.floor(rand() * 200))}'`;
  if (r < 0.08) return Array.from({ length: 10 + Math.floor(rand() * 300) }, () => pick(rand, EXPR_NOISE)).join('');
  let out = exprTree(rand, 0);
  if (rand() < 0.4) {
    const edits = 1 + Math.floor(rand() * 3);
    for (let e = 0; e < edits; e++) {
      const at = Math.floor(rand() * (out.length + 1));
      out = rand() < 0.6 ? out.slice(0, at) + pick(rand, EXPR_NOISE) + out.slice(at) : out.slice(0, at) + out.slice(at + 1);
    }
  }
  return out;
}

const FUZZ_CTX: ExpressionContext = {
  ...emptyContext(),
  trigger: { branch: 'main', ref: 'refs/heads/main', event: { labels: [{ name: 'a' }, { name: 'b' }] } },
  variables: { region: 'eu' },
  matrix: { os: 'linux' },
  steps: { a: { outputs: { x: '[1,2]' }, status: 'success' } },
};

/** Every entry point must answer with a value or an ExpressionError, nothing else. */
function exerciseExpression(expr: string): void {
  const expectOnlyExpressionErrors = (what: string, fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      expect(err, `${what}(${JSON.stringify(expr)}) threw ${String(err)}`).toBeInstanceOf(ExpressionError);
      expect(typeof (err as ExpressionError).offset).toBe('number');
    }
  };
  const parsed = parseExpression(expr);
  expect(typeof parsed.ok).toBe('boolean');
  if (parsed.ok) {
    expectOnlyExpressionErrors('evaluate', () => evaluate(parsed.ast, FUZZ_CTX));
    expect(() => checkExpression(parsed.ast, { stepsBefore: ['a'], matrixKeys: ['os'], variableNames: ['region'], inStep: true })).not.toThrow();
  } else {
    expect(parsed.error).toBeInstanceOf(ExpressionError);
  }
  expectOnlyExpressionErrors('interpolate', () => interpolate(`x \${{ ${expr} }} y`, FUZZ_CTX));
  expectOnlyExpressionErrors('evaluateCondition', () => evaluateCondition(expr, FUZZ_CTX));
  expectOnlyExpressionErrors('rewriteRunScript', () => {
    const rewritten = rewriteRunScript(`echo "\${{ ${expr} }}" '\${{ ${expr} }}'`);
    expect(rewritten.script).not.toContain('${{');
    return bindingEnvironment(rewritten.bindings, FUZZ_CTX);
  });
}

function expressionSpec(field: 'run' | 'when' | 'env' | 'jobWhen' | 'args', expr: string): Record<string, unknown> {
  const wrapped = `\${{ ${expr} }}`;
  const steps: Array<Record<string, unknown>> = [{ name: 'a', run: 'echo first' }];
  if (field === 'run') steps.push({ name: 'b', run: `echo ${wrapped}` });
  else if (field === 'when') steps.push({ name: 'b', run: 'echo', when: expr });
  else if (field === 'env') steps.push({ name: 'b', run: 'echo', env: { V: wrapped } });
  else if (field === 'args') steps.push({ name: 'b', uses: 'actions/x@v1', args: { v: wrapped } });
  const job: Record<string, unknown> = { name: 'j', matrix: { os: ['linux'] }, steps };
  if (field === 'jobWhen') job.when = wrapped;
  return { namespace: 'n', version: 'v1', variables: { region: 'eu' }, jobs: [job] };
}

function assertWellFormed(result: CompileResult, label: string): void {
  expect(typeof result.valid, label).toBe('boolean');
  expect(Array.isArray(result.errors), label).toBe(true);
  expect(Array.isArray(result.warnings), label).toBe(true);
  if (result.valid) {
    expect(result.errors, label).toEqual([]);
    expect(result.pipeline.modelVersion, label).toBe(1);
    expect(result.pipeline.jobs.length, label).toBeGreaterThan(0);
    expect(result.pipeline.jobs.length, label).toBeLessThanOrEqual(500);
    expect(new Set(result.pipeline.jobs.map((j) => j.key)).size, label).toBe(result.pipeline.jobs.length);
  } else {
    expect(result.pipeline, label).toBeUndefined();
    expect(result.errors.length, label).toBeGreaterThan(0);
  }
  for (const issue of [...result.errors, ...result.warnings]) {
    expect(typeof issue.path, label).toBe('string');
    expect(typeof issue.message, label).toBe('string');
    expect(issue.message, label).not.toMatch(/could not be checked|Invalid (type|key|length)/);
    if (issue.line !== undefined) expect(issue.line >= 1 && issue.column !== undefined && issue.column >= 1, label).toBe(true);
  }
  expect(() => JSON.stringify(result), label).not.toThrow();
}

describe('spec fuzz', () => {
  it('survives mutated YAML text', () => {
    const rand = prng(0xa11ce);
    for (let i = 0; i < 3000; i++) {
      const text = mutateText(rand, pick(rand, SEEDS));
      assertWellFormed(compileTimed(text, pick(rand, ['yaml', 'yml', undefined] as const), `yaml #${i}: ${JSON.stringify(text)}`), `yaml #${i}: ${JSON.stringify(text)}`);
    }
  });

  it('survives mutated JSON text and garbage strings', () => {
    const rand = prng(0xbeef);
    const json = JSON.stringify({ namespace: 'n', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', run: 'x' }] }] }, null, 2);
    for (let i = 0; i < 1500; i++) {
      const text = rand() < 0.6 ? mutateText(rand, json) : garbage(rand);
      assertWellFormed(compileTimed(text, rand() < 0.5 ? 'json' : 'yaml', `text #${i}: ${JSON.stringify(text)}`), `text #${i}: ${JSON.stringify(text)}`);
    }
  });

  it('survives random and mutated structured values', () => {
    const rand = prng(0xc0ffee);
    for (let i = 0; i < 2500; i++) {
      const value = rand() < 0.5 ? mutateObject(rand) : randomValue(rand, 0);
      assertWellFormed(compileTimed(value, undefined, `object #${i}`), `object #${i}`);
    }
  });

  it('survives fields deleted, retyped, duplicated and nested deeply, as values and as text', () => {
    const rand = prng(0xd1ce);
    for (let i = 0; i < 2000; i++) {
      const value = structuralMutation(rand);
      const asText = rand() < 0.4;
      const input = asText ? (rand() < 0.5 ? JSON.stringify(value) : toYaml(value)) : value;
      const label = `structural #${i}: ${asText ? JSON.stringify(input).slice(0, 300) : ''}`;
      assertWellFormed(compileTimed(input, asText ? 'yaml' : undefined, label), label);
    }
  });

  it('survives random bytes', () => {
    const rand = prng(0xb17e5);
    const decoder = new TextDecoder('utf-8');
    for (let i = 0; i < 500; i++) {
      const bytes = Uint8Array.from({ length: Math.floor(rand() * 2000) }, () => Math.floor(rand() * 256));
      const text = rand() < 0.5 ? decoder.decode(bytes) : String.fromCharCode(...bytes);
      assertWellFormed(compileTimed(text, pick(rand, ['yaml', 'json', undefined] as const), `bytes #${i}`), `bytes #${i}`);
    }
  });

  it('survives huge strings in every field', () => {
    const rand = prng(0x5123);
    for (let i = 0; i < 100; i++) {
      const big = hugeString(rand, 50_000 + Math.floor(rand() * 850_000));
      const spec: Record<string, unknown> = {
        namespace: 'n',
        version: 'v1',
        jobs: [
          { name: 'a', matrix: { os: ['l', 'm'] }, steps: [{ name: 's', run: 'x' }] },
          { name: 'b', needs: ['a'], steps: [{ name: 't', uses: 'a/b@v1', args: { k: 1 } }] },
        ],
      };
      const where = Math.floor(rand() * 5);
      const jobs = spec.jobs as Array<Record<string, unknown>>;
      if (where === 0) spec.namespace = big;
      else if (where === 1) jobs[0].steps = [{ name: 's', run: big }];
      else if (where === 2) jobs[0].when = big;
      else if (where === 3) jobs[1].env = { BIG: big };
      else spec[big.slice(0, 5000)] = big;
      const asText = rand() < 0.3;
      const input = asText ? JSON.stringify(spec) : spec;
      assertWellFormed(compileTimed(input, asText ? 'json' : undefined, `huge #${i} (${big.length} chars, field ${where})`), `huge #${i}`);
    }
  });

  it('survives random expressions, alone and in specs', () => {
    const rand = prng(0xe4e4);
    for (let i = 0; i < 2000; i++) {
      const expr = randomExpression(rand);
      exerciseExpression(expr);
      stats.expressions++;
      const field = pick(rand, ['run', 'when', 'env', 'jobWhen', 'args'] as const);
      const spec = expressionSpec(field, expr);
      const asText = rand() < 0.5;
      const input = asText ? toYaml(spec) : spec;
      const label = `expression #${i} in ${field}: ${JSON.stringify(expr)}`;
      assertWellFormed(compileTimed(input, asText ? 'yaml' : undefined, label), label);
    }
  });

  it('ran at least 10,000 specs and 2,000 expressions, each compile under 100 ms', () => {
    console.info(`spec fuzz: ${stats.specs} specs, ${stats.expressions} expressions; slowest compile ${stats.maxMs.toFixed(1)} ms (${stats.slowest})`);
    expect(stats.specs).toBeGreaterThanOrEqual(10_000);
    expect(stats.expressions).toBeGreaterThanOrEqual(2_000);
    expect(stats.maxMs).toBeLessThan(MAX_MS);
  });

  it('is deterministic', () => {
    for (const text of SEEDS) expect(compilePipeline(text)).toStrictEqual(compilePipeline(text));
  });
});
