// Fuzz: mutated specs, garbage text and random structures. compilePipeline must always answer
// with a well-formed CompileResult, never throw, and never fall back to its internal-error net.
import { describe, it, expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import type { CompileResult } from '../../src/spec/index';

/** mulberry32: a small deterministic PRNG, so a failure reproduces from its seed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
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
    for (let i = 0; i < 1500; i++) {
      const text = mutateText(rand, pick(rand, SEEDS));
      assertWellFormed(compilePipeline(text, { format: pick(rand, ['yaml', 'yml', undefined] as const) }), `yaml #${i}: ${JSON.stringify(text)}`);
    }
  });

  it('survives mutated JSON text and garbage strings', () => {
    const rand = prng(0xbeef);
    const json = JSON.stringify({ namespace: 'n', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', run: 'x' }] }] }, null, 2);
    for (let i = 0; i < 800; i++) {
      const text = rand() < 0.6 ? mutateText(rand, json) : garbage(rand);
      assertWellFormed(compilePipeline(text, { format: rand() < 0.5 ? 'json' : 'yaml' }), `text #${i}: ${JSON.stringify(text)}`);
    }
  });

  it('survives random and mutated structured values', () => {
    const rand = prng(0xc0ffee);
    for (let i = 0; i < 1500; i++) {
      const value = rand() < 0.5 ? mutateObject(rand) : randomValue(rand, 0);
      assertWellFormed(compilePipeline(value), `object #${i}`);
    }
  });

  it('is deterministic', () => {
    for (const text of SEEDS) expect(compilePipeline(text)).toStrictEqual(compilePipeline(text));
  });
});
