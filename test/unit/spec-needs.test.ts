// `needs` resolution: by job name, against stage order, with cycles reported.
import { describe, it, expect } from 'vitest';
import { compilePipeline } from '../../src/spec/index';
import { invalid, issueAt, job, specWithJobs, valid } from './spec-helpers';

const stages = (...list: Array<[string, unknown[]]>) => ({ namespace: 'n', version: 'v1', stages: list.map(([name, jobs]) => ({ name, jobs })) });

describe('needs', () => {
  it('resolves needs by job name within a stage', () => {
    const pipeline = valid(specWithJobs([job('compile'), job('test', { needs: ['compile'] }), job('ship', { needs: ['test', 'compile'] })]));
    expect(pipeline.jobs.map((j) => [j.key, j.needs])).toEqual([
      ['compile', []],
      ['test', ['compile']],
      ['ship', ['test', 'compile']],
    ]);
  });

  it('reports a need on an unknown job, with a suggestion', () => {
    const errors = invalid('namespace: n\nversion: v1\njobs:\n  - name: compile\n    steps: [{name: s, run: x}]\n  - name: test\n    needs: [complie]\n    steps: [{name: s, run: x}]\n');
    expect(errors).toEqual([{ path: 'jobs[1].needs[0]', message: "needs 'complie', but no job has that name; did you mean 'compile'?", line: 7, column: 13 }]);
    expect(issueAt(invalid(specWithJobs([job('a', { needs: 'zzz' })])), 'jobs[0].needs').message).toBe("needs 'zzz', but no job has that name");
  });

  it('reports a need on a job of a later stage', () => {
    const errors = invalid(stages(['build', [job('a', { needs: ['b'] })]], ['test', [job('b')]]));
    expect(issueAt(errors, 'stages[0].jobs[0].needs[0]').message).toBe("needs 'b', which is in a later stage ('test'); a job can only need jobs of its own or an earlier stage");
  });

  it('warns about a need on a job of an earlier stage, and keeps it', () => {
    const result = compilePipeline(stages(['build', [job('a')]], ['test', [job('b', { depends_on: ['a'] })]]));
    expect(result.valid).toBe(true);
    expect(result.pipeline?.jobs[1].needs).toEqual(['a']);
    expect(result.warnings).toEqual([{ path: 'stages[1].jobs[0].depends_on[0]', message: "needs 'a' from an earlier stage ('build'); stage order already makes this job wait for it" }]);
  });

  it('reports a cycle naming its jobs', () => {
    const errors = invalid(specWithJobs([job('a', { needs: ['c'] }), job('b', { needs: ['a'] }), job('c', { needs: ['b'] }), job('d', { needs: ['a'] })]));
    expect(errors).toEqual([{ path: 'jobs[1].needs[0]', message: "dependency cycle: 'a' → 'c' → 'b' → 'a'; remove one of these needs" }]);
  });

  it('reports a job needing itself', () => {
    expect(issueAt(invalid(specWithJobs([job('a', { needs: ['a'] })])), 'jobs[0].needs[0]').message).toBe("job 'a' cannot need itself");
  });

  it('reports cycles with YAML positions in the spelling used', () => {
    const text = 'namespace: n\nversion: v1\njobs:\n  - name: a\n    dependsOn: b\n    steps: [{name: s, run: x}]\n  - name: b\n    depends_on: [a]\n    steps: [{name: s, run: x}]\n';
    expect(invalid(text)).toEqual([{ path: 'jobs[1].depends_on[0]', message: "dependency cycle: 'a' → 'b' → 'a'; remove one of these needs", line: 8, column: 18 }]);
  });

  it('expands a need on a matrix job to every combination', () => {
    const pipeline = valid(specWithJobs([job('build', { matrix: { os: ['linux', 'mac'] } }), job('test', { needs: 'build' })]));
    expect(pipeline.jobs.find((j) => j.key === 'test')?.needs).toEqual(['build (os=linux)', 'build (os=mac)']);
  });
});
