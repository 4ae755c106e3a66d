// The compiler on a big spec (the benchmark's 500 jobs × 10 steps): same answer for object and
// text input, no super-linear blow-up, and the shortcuts taken for speed keep their meaning.
import { describe, it, expect } from 'vitest';
import { parse } from 'yaml';
import { compilePipeline } from '../../src/spec/index';
import type { CompileResult } from '../../src/spec/index';
import type { PluginResolution, PluginResolver } from '../../src/plugins/types';
import { generateSpec } from '../../bench/spec-compile';
import { issueAt, specWithJobs } from './spec-helpers';

const text = generateSpec();

function bestOf(runs: number, compile: () => CompileResult): { ms: number; result: CompileResult } {
  let ms = Infinity;
  let result!: CompileResult;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    result = compile();
    ms = Math.min(ms, performance.now() - started);
  }
  return { ms, result };
}

describe('spec compile on a big spec', () => {
  it('gives the same pipeline for the structured value and for its YAML and JSON text', () => {
    const fromObject = compilePipeline(parse(text));
    expect(fromObject.valid).toBe(true);
    expect(fromObject.pipeline?.jobs).toHaveLength(500);
    expect(compilePipeline(text, { format: 'yaml' })).toStrictEqual(fromObject);
    expect(compilePipeline(JSON.stringify(parse(text)), { format: 'json' })).toStrictEqual(fromObject);
  });

  it('compiles the structured value well within budget (a guard against quadratic work, not a benchmark)', () => {
    const value = parse(text);
    const { ms, result } = bestOf(3, () => compilePipeline(value));
    expect(result.valid).toBe(true);
    expect(ms).toBeLessThan(1000);
  });

  it('still locates issues in a big spec, in JSON text too', () => {
    const value = parse(text) as { jobs: Array<{ steps: Array<Record<string, unknown>> }> };
    value.jobs[300].steps[4].timeout = 'soon';
    value.jobs[400].steps[2].run = 'echo ${{ steps.step-9.outputs.x }}';
    const json = JSON.stringify(value, null, 2);
    const result = compilePipeline(json, { format: 'json' });
    expect(result.valid).toBe(false);
    const lines = json.split('\n');
    const timeout = issueAt(result.errors, 'jobs[300].steps[4].timeout');
    expect(lines[timeout.line! - 1]).toContain('"timeout": "soon"');
    const run = issueAt(result.errors, 'jobs[400].steps[2].run');
    expect(run.message).toContain('steps.step-9 does not name an earlier step');
    expect(lines[run.line! - 1].slice(run.column! - 1)).toMatch(/^step-9\.outputs/);
  });
});

describe('shortcuts keep their meaning', () => {
  it('checks an expression naming steps or matrix in each scope, whatever its spelling', () => {
    const steps = [
      { name: 'a', run: 'echo ${{ Steps.b.outputs.x }} ${{ variables.v }}' },
      { name: 'b', run: 'echo ${{ Steps.b.outputs.x }} ${{ variables.v }}' },
      { name: 'c', run: 'echo ${{ Steps.b.outputs.x }} ${{ variables.v }}' },
    ];
    const result = compilePipeline(specWithJobs([{ name: 'j', steps }], { variables: { v: 'x' } }));
    expect(result.errors.map((e) => e.path)).toEqual(['jobs[0].steps[0].run', 'jobs[0].steps[1].run']);
  });

  it('applies each duration minimum to the same text', () => {
    const retry = { maxAttempts: 2, delay: '0s' };
    const result = compilePipeline(specWithJobs([{ name: 'j', retry, steps: [{ name: 's', run: 'x', timeout: '0s', retry }] }]));
    expect(result.errors.map((e) => e.path)).toEqual(['jobs[0].steps[0].timeout']);
    const ok = compilePipeline(specWithJobs([{ name: 'j', retry, steps: [{ name: 's', run: 'x', timeout: '90s', retry }] }]));
    expect(ok.valid && ok.pipeline.jobs[0].steps[0]).toMatchObject({ timeoutMs: 90_000, retry: { maxAttempts: 2, delayMs: 0 } });
  });

  it('resolves each distinct plugin reference once per compile', () => {
    const calls: string[] = [];
    const plugins: PluginResolver = {
      resolve(uses): PluginResolution {
        calls.push(uses);
        return { ok: true, plugin: { name: uses.split('@')[0], version: '1.0.0', actions: [], checkArgs: () => [] } };
      },
    };
    const steps = Array.from({ length: 6 }, (_, i) => ({ name: `s${i}`, uses: i % 2 === 0 ? 'a/b@v1' : 'a/c@v1' }));
    const result = compilePipeline(specWithJobs([{ name: 'j', steps }, { name: 'k', steps }]), { plugins });
    expect(result.valid).toBe(true);
    expect(calls).toEqual(['a/b@v1', 'a/c@v1']);
    expect(result.valid && result.pipeline.jobs[1].steps.map((s) => s.pluginVersion)).toEqual(Array(6).fill('1.0.0'));
  });

  it('leaves no undefined fields in the model', () => {
    const result = compilePipeline(specWithJobs([{ name: 'j', steps: [{ name: 's', run: 'x' }] }]));
    expect(result.valid && Object.keys(result.pipeline.jobs[0].steps[0])).toEqual(['name', 'index', 'uses', 'args', 'run', 'env', 'continueOnError', 'retry']);
  });
});
