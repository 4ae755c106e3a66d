// Static checks of expressions: alone (checkExpression) and inside specs, with the line and
// column of the expression inside its string.
import { describe, it, expect } from 'vitest';
import { checkExpression, compilePipeline, parseExpression } from '../../src/spec/index';
import type { ExpressionScope } from '../../src/spec/index';
import { invalid, issueAt, job, specWithJobs } from './spec-helpers';

const inStep: ExpressionScope = { stepsBefore: ['checkout', 'build'], matrixKeys: ['os', 'go'], variableNames: ['region'], inStep: true };
const inJob: ExpressionScope = { stepsBefore: null, matrixKeys: null, variableNames: [], inStep: false };

function problems(text: string, scope: ExpressionScope) {
  const parsed = parseExpression(text);
  if (!parsed.ok) throw parsed.error;
  return checkExpression(parsed.ast, scope);
}

const CLEAN: Array<[string, ExpressionScope]> = [
  ["trigger.branch == 'main'", inJob],
  ['trigger.commitSha', inJob],
  ['trigger.event.pull_request.number', inJob],
  ['pipeline.runId', inJob],
  ['env.ANYTHING && secrets.ANY && job.status', inJob],
  ['steps.build.outputs.version', inStep],
  ["steps['checkout'].status", inStep],
  ['steps.build.outputs[env.KEY]', inStep],
  ['matrix.os', inStep],
  ['toJSON(matrix)', inJob],
  ["format('{0}-{1}', matrix.os, matrix.go)", inStep],
  ['Contains(trigger.ref, \'x\')', inJob],
  ['variables.region', inStep],
  ['success() || failure() || always() || cancelled()', inJob],
  ["fromJSON(steps.build.outputs.json).a.*.b", inStep],
];

const ERRORS: Array<[string, ExpressionScope, RegExp, number]> = [
  ['foo.bar', inJob, /^unknown context 'foo'; use one of trigger, variables, env, matrix, secrets, pipeline, job, steps$/, 0],
  ['trigger.brnch', inJob, /unknown property 'brnch' of trigger; did you mean 'branch'\? trigger has type, ref, branch, tag, commitSha, event, actor/, 8],
  ['pipeline.owner', inJob, /unknown property 'owner' of pipeline/, 9],
  ["pipeline['owner']", inJob, /unknown property 'owner' of pipeline/, 9],
  ['steps.build.outputs.x', inJob, /steps context is only available inside a job's steps/, 0],
  ['steps', inJob, /steps context is only available/, 0],
  ['steps.deploy.outputs.x', inStep, /steps\.deploy does not name an earlier step of this job.*earlier steps: checkout, build/, 6],
  ['steps.build.result', inStep, /unknown property 'result' of steps\.build; a step has outputs and status/, 12],
  ['steps.x.status', { ...inStep, stepsBefore: [] }, /this is the first step of the job/, 6],
  ['matrix.os', inJob, /matrix\.os is used, but no matrix applies here/, 0],
  ['matrix.arch', inStep, /the matrix has no key 'arch'; its keys are os, go/, 7],
  ['nope()', inJob, /unknown function 'nope'; functions are contains, startsWith/, 0],
  ['hashFiles(\'x\')', inJob, /unknown function 'hashFiles'/, 0],
  ["contains('a')", inJob, /contains\(\) takes 2 arguments, got 1/, 0],
  ['always(1)', inJob, /always\(\) takes 0 arguments, got 1/, 0],
  ["join('a', 'b', 'c')", inJob, /join\(\) takes 1 to 2 arguments, got 3/, 0],
  ["1 == 1 && format('{1}', 'a')", inJob, /format\(\): placeholder \{1\} has no argument/, 10],
  ["format('{', 'a')", inJob, /must start a placeholder/, 0],
  ["contains(foo, 'x')", inJob, /unknown context 'foo'/, 9],
  ['trigger[foo.bar]', inJob, /unknown context 'foo'/, 8],
];

describe('checkExpression', () => {
  it.each(CLEAN)('accepts %s', (text, scope) => {
    expect(problems(text, scope).filter((p) => p.severity === 'error')).toEqual([]);
  });

  it.each(ERRORS)('rejects %s', (text, scope, message, offset) => {
    const found = problems(text, scope);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ severity: 'error', offset });
    expect(found[0].message).toMatch(message);
  });

  it('warns about variables that are not declared', () => {
    expect(problems('variables.other', inStep)).toEqual([
      { severity: 'warning', offset: 10, message: "variable 'other' is not declared under 'variables'; it is empty unless the run provides it" },
    ]);
  });

  it('suggests a context name', () => {
    expect(problems('triger.ref', inJob)[0].message).toMatch(/did you mean 'trigger'\?/);
  });

  it('reports every problem, in order', () => {
    expect(problems('a.b && nope() && steps.z.status', inJob).map((p) => p.offset)).toEqual([0, 7, 17]);
  });
});

const yaml = (body: string) => `namespace: demo.pipeline\nversion: v1\njobs:\n${body}`;

describe('expressions in specs', () => {
  it('points at the expression inside a plain scalar', () => {
    const text = yaml(`  - name: build
    steps:
      - name: s
        run: echo \${{ trigger.ref }} \${{ foo.bar }}
`);
    expect(invalid(text)).toEqual([
      { path: 'jobs[0].steps[0].run', message: "'${{ foo.bar }}': unknown context 'foo'; use one of trigger, variables, env, matrix, secrets, pipeline, job, steps", line: 7, column: 42 },
    ]);
  });

  it('points into a block scalar, line by line', () => {
    const text = yaml(`  - name: build
    steps:
      - name: first
        run: echo hi
      - name: s
        run: |
          echo start
          echo \${{ steps.first.outputs.v }}
          echo \${{ steps.later.outputs.v }}
      - name: later
        run: echo \${{ steps.s.status }}
`);
    expect(invalid(text)).toEqual([
      { path: 'jobs[0].steps[1].run', message: expect.stringMatching(/^'\$\{\{ steps\.later\.outputs\.v }}': steps\.later does not name an earlier step/), line: 12, column: 26 },
    ]);
  });

  it('finds the right one of several identical expressions', () => {
    const text = yaml(`  - name: build
    steps:
      - name: s
        run: "echo \${{ x }} and \${{ x }}"
`);
    const errors = invalid(text);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ line: 7, column: 24 });
  });

  it('falls back to the value start when the text is not written verbatim', () => {
    const text = yaml(`  - name: build
    steps:
      - name: s
        run: 'echo \${{ ''a'' == nope.x }}'
`);
    expect(invalid(text)[0]).toMatchObject({ path: 'jobs[0].steps[0].run', line: 7, column: 14 });
  });

  it('checks job and step conditions with or without ${{ }}', () => {
    const text = yaml(`  - name: build
    when: trigger.brnch == 'main'
    steps:
      - name: s
        when: \${{ steps.s.status == 'x' }}
        run: echo
      - name: t
        when: "\${{ a }} && b"
        run: echo
  - name: deploy
    when: steps.build.status
    steps: [{name: s, run: echo}]
`);
    const errors = invalid(text);
    expect(issueAt(errors, 'jobs[0].when')).toMatchObject({ message: expect.stringMatching(/unknown property 'brnch' of trigger/), line: 5, column: 19 });
    expect(issueAt(errors, 'jobs[0].steps[0].when')).toMatchObject({ message: expect.stringMatching(/steps\.s does not name an earlier step/), line: 8, column: 25 });
    expect(issueAt(errors, 'jobs[0].steps[1].when')).toMatchObject({ message: expect.stringMatching(/a condition must be one expression/), line: 11 });
    expect(issueAt(errors, 'jobs[1].when')).toMatchObject({ message: expect.stringMatching(/steps context is only available inside a job's steps/), line: 14, column: 11 });
  });

  it('accepts valid conditions and expressions everywhere', () => {
    const result = compilePipeline(
      specWithJobs([
        job('a', {
          when: "trigger.branch == 'main'",
          matrix: { os: ['linux'], include: [{ os: 'linux', extra: 'x' }] },
          env: { OS: '${{ matrix.os }}-${{ matrix.extra }}' },
          steps: [
            { name: 'one', run: 'echo ${{ matrix.os }}', when: '${{ always() }}' },
            { name: 'two', run: 'echo ${{ steps.one.outputs.v }}', when: "steps.one.status == 'success'" },
          ],
        }),
      ], { env: { REF: '${{ trigger.ref }}' } }),
    );
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
    expect(result.pipeline?.jobs[0].steps[1].when).toBe("steps.one.status == 'success'");
    expect(result.pipeline?.env.REF).toBe('${{ trigger.ref }}');
  });

  it('rejects matrix values outside a matrix job and at the pipeline level', () => {
    const errors = invalid(specWithJobs([job('a', { steps: [{ name: 's', run: 'echo ${{ matrix.os }}' }] })], { env: { M: '${{ matrix.os }}' } }));
    expect(issueAt(errors, 'jobs[0].steps[0].run').message).toMatch(/no matrix applies here/);
    expect(issueAt(errors, 'env.M').message).toMatch(/no matrix applies here/);
  });

  it('warns about undeclared variables and about risky shell positions', () => {
    const result = compilePipeline(
      yaml(`  - name: a
    steps:
      - name: s
        run: |
          cat <<'EOF'
          \${{ trigger.ref }}
          EOF
          echo $(( \${{ variables.n }} + 1 ))
`),
    );
    expect(result.valid).toBe(true);
    expect(result.warnings).toEqual([
      { path: 'jobs[0].steps[0].run', message: expect.stringMatching(/^'\$\{\{ trigger\.ref }}' is in a heredoc with a quoted delimiter/), line: 9, column: 11 },
      { path: 'jobs[0].steps[0].run', message: expect.stringMatching(/^'\$\{\{ variables\.n }}' is used in shell arithmetic/), line: 11, column: 20 },
      { path: 'jobs[0].steps[0].run', message: expect.stringMatching(/^'\$\{\{ variables\.n }}': variable 'n' is not declared/), line: 11, column: 34 },
    ]);
  });

  it('reports expression errors in JSON text with positions', () => {
    const text = JSON.stringify({ namespace: 'n', version: 'v1', jobs: [{ name: 'a', steps: [{ name: 's', run: 'echo ${{ nope }}' }] }] }, null, 2);
    const [error] = invalid(text, 'json');
    expect(error).toMatchObject({ path: 'jobs[0].steps[0].run', line: 10, column: 28 });
  });

  it('limits the number of expressions in a spec', () => {
    const steps = Array.from({ length: 51 }, (_, i) => ({ name: `s${i}`, run: "${{ always() }} ".repeat(100) }));
    expect(issueAt(invalid(specWithJobs([job('a', { steps })])), '').message).toBe('the spec has more than 5000 expressions; at most 5000 are allowed');
  });
});
