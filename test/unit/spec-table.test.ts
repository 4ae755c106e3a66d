// The spec language, table-driven: every case is YAML text; a valid case must compile, an
// invalid one must report an error at exactly the path and the line/column marked with § in it.
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { compilePipeline } from '../../src/spec/index';

interface Case {
  name: string;
  yaml: string;
  /** Absent for a valid case. */
  path?: string;
  message?: RegExp;
}

const HEAD = 'namespace: demo.pipeline\nversion: v1\n';
const fixture = (file: string) => readFileSync(join(import.meta.dirname, '../fixtures/spec', file), 'utf8');

/** A pipeline whose one job has one `run` step; `top`, `job` and `step` add lines at each level. */
function spec(parts: { top?: string; job?: string; step?: string; stepBody?: string; more?: string } = {}): string {
  const indent = (text: string | undefined, n: number) => (text ? `${text.split('\n').map((l) => ' '.repeat(n) + l).join('\n')}\n` : '');
  return (
    HEAD +
    indent(parts.top, 0) +
    'jobs:\n  - name: build\n' +
    indent(parts.job, 4) +
    '    steps:\n      - name: compile\n' +
    indent(parts.step, 8) +
    indent(parts.stepBody ?? 'run: make', 8) +
    (parts.more ?? '')
  );
}

const top = (line: string) => spec({ top: line });
const job = (line: string) => spec({ job: line });
const step = (line: string) => spec({ step: line });
const plugin = (line: string) => spec({ stepBody: `uses: actions/go-build@v1\n${line}` });

const VALID: Case[] = [
  { name: 'seed: stages shape', yaml: fixture('seed-stages.yaml') },
  { name: 'seed: jobs shape', yaml: fixture('seed-jobs.yaml') },
  { name: 'seed: snake_case spellings', yaml: fixture('snake-case.yaml') },
  { name: 'minimal run step', yaml: spec() },
  { name: 'semver version', yaml: spec().replace('version: v1', 'version: 1.2.3') },
  { name: 'prerelease version', yaml: spec().replace('version: v1', 'version: 2.0.0-rc.1') },
  { name: 'variables and env', yaml: top('variables: {region: eu, replicas: 3}\nenv: {A: b, N: 1, T: true}') },
  { name: 'all trigger types', yaml: top('triggers:\n  - {type: manual}\n  - {type: cron, options: {expression: "@daily"}}\n  - {type: event, options: {events: [pull_request], paths: ["src/**"]}}') },
  { name: 'pipeline approval and timeout', yaml: top('approval: {required: true, approvers: [bob], timeout: 24h}\ntimeout: 2h') },
  { name: 'job matrix with include and exclude', yaml: job('matrix: {os: [linux, mac], go: ["1.24", "1.25"], exclude: [{os: mac, go: "1.24"}], include: [{os: win, go: "1.25"}], maxParallel: 2, failFast: false}') },
  { name: 'matrix of exactly 256', yaml: job(`matrix: {a: [${Array.from({ length: 16 }, (_, i) => i).join(', ')}], b: [${Array.from({ length: 16 }, (_, i) => i).join(', ')}]}`) },
  { name: 'job retry, timeout and continueOnError', yaml: job('retry: {maxAttempts: 3, delay: 0s}\ntimeout: 1h30m\ncontinueOnError: true') },
  { name: 'runsOn labels', yaml: job('runsOn: [linux, "arch=arm64"]') },
  { name: 'agentSelector', yaml: job('agentSelector: {matchLabels: {os: linux}, matchExpressions: [{key: gpu, operator: Exists}]}') },
  { name: 'needs across stages', yaml: HEAD + 'stages:\n  - name: one\n    jobs: [{name: a, steps: [{name: s, run: x}]}]\n  - name: two\n    jobs: [{name: b, needs: a, steps: [{name: s, run: x}]}]\n' },
  { name: 'needs in the same stage', yaml: HEAD + 'jobs:\n  - {name: a, steps: [{name: s, run: x}]}\n  - {name: b, dependsOn: [a], steps: [{name: s, run: x}]}\n' },
  { name: 'plugin step with action and args', yaml: plugin('action: build\nargs: {go_version: "1.25", flags: [-v]}') },
  { name: 'plugin pinned to an exact version', yaml: spec({ stepBody: 'uses: actions/go-build@1.2.3' }) },
  { name: 'step fields', yaml: step('env: {CGO_ENABLED: 0}\nwhen: "success()"\ntimeout: 90s\ncontinue_on_error: true\nretry: {max_attempts: 2}\nworkingDirectory: ./src') },
  { name: 'expressions in every context', yaml: spec({ job: 'matrix: {os: [linux]}\nenv: {R: "${{ trigger.ref }}"}', stepBody: 'run: echo ${{ matrix.os }} ${{ pipeline.number }} ${{ secrets.TOKEN }} ${{ env.R }} ${{ job.status }}' }) },
  { name: 'when without ${{ }}', yaml: job("when: trigger.branch == 'main' && !cancelled()") },
  { name: 'step reading an earlier step', yaml: spec({ more: "      - name: ship\n        when: steps.compile.status == 'success'\n        run: echo ${{ steps.compile.outputs.version }}\n" }) },
  { name: 'source, target and notify', yaml: job('source: {repo: "https://example.com/x.git", ref: main}\ntarget: prod\nnotify: {onFailure: [{uses: actions/slack@v1}]}') },
  { name: 'JSON-compatible flow style', yaml: '{"namespace": "n", "version": "v1", "jobs": [{"name": "a", "steps": [{"name": "s", "run": "x"}]}]}' },
];

const WRONG_TYPE: Case[] = [
  { name: 'namespace as a list', yaml: spec().replace('namespace: demo.pipeline', '§namespace: [a]'), path: 'namespace', message: /must be a string/ },
  { name: 'namespace too long', yaml: spec().replace('namespace: demo.pipeline', `§namespace: ${'n'.repeat(201)}`), path: 'namespace', message: /at most 200 characters/ },
  { name: 'namespace with spaces', yaml: spec().replace('namespace: demo.pipeline', '§namespace: a b'), path: 'namespace', message: /must not contain spaces/ },
  { name: 'version as a number', yaml: spec().replace('version: v1', '§version: 2'), path: 'version', message: /quote it/ },
  { name: 'version v2', yaml: spec().replace('version: v1', '§version: v2'), path: 'version', message: /v1 or a semantic version/ },
  { name: 'variables as a list', yaml: top('§variables: [a]'), path: 'variables', message: /must be a mapping of variables/ },
  { name: 'variable value as a list', yaml: top('variables: {§a: [1]}'), path: 'variables.a', message: /must be a string, number or boolean/ },
  { name: 'env as a string', yaml: top('§env: x'), path: 'env', message: /must be a mapping of environment variables/ },
  { name: 'env name invalid', yaml: top('env: {§1BAD: x}'), path: 'env["1BAD"]', message: /not a valid environment variable name/ },
  { name: 'stages as a string', yaml: HEAD + '§stages: x\n', path: 'stages', message: /must be a list/ },
  { name: 'jobs as a mapping', yaml: HEAD + '§jobs: {a: 1}\n', path: 'jobs', message: /must be a list/ },
  { name: 'source as a string', yaml: top('§source: x'), path: 'source', message: /must be a mapping of source fields/ },
  { name: 'source type not git', yaml: top('source: {§type: svn, repo: x}'), path: 'source.type', message: /must be git/ },
  { name: 'approval as a list', yaml: top('§approval: []'), path: 'approval', message: /must be a mapping/ },
  { name: 'approval required not boolean', yaml: top('approval: {§required: maybe}'), path: 'approval.required', message: /must be true or false/ },
  { name: 'approvers not a list', yaml: top('approval: {required: true, §approvers: bob}'), path: 'approval.approvers', message: /must be a list/ },
  { name: 'target as a list', yaml: top('§target: [a]'), path: 'target', message: /must be a string/ },
  { name: 'notify as a list', yaml: top('§notify: []'), path: 'notify', message: /must be a mapping/ },
  { name: 'notify onSuccess not a list', yaml: top('notify: {§onSuccess: x}'), path: 'notify.onSuccess', message: /must be a list/ },
  { name: 'triggers as a mapping', yaml: top('§triggers: {type: manual}'), path: 'triggers', message: /must be a list/ },
  { name: 'trigger type unknown', yaml: top('triggers: [{§type: webhook}]'), path: 'triggers[0].type', message: /must be manual, cron or event/ },
  { name: 'cron expression invalid', yaml: top('triggers: [{type: cron, options: {§expression: every day}}]'), path: 'triggers[0].options.expression', message: /cron expression/ },
  { name: 'cron time zone invalid', yaml: top('triggers: [{type: cron, options: {expression: "@daily", §timezone: Mars/Base}}]'), path: 'triggers[0].options.timezone', message: /IANA time zone/ },
  { name: 'event name invalid', yaml: top('triggers: [{type: event, options: {events: [push, §merge]}}]'), path: 'triggers[0].options.events[1]', message: /must be push, tag or pull_request/ },
  { name: 'pipeline timeout as a number', yaml: top('§timeout: 5'), path: 'timeout', message: /must be a duration/ },
  { name: 'job name as a list', yaml: spec().replace('  - name: build', '  - §name: [a]'), path: 'jobs[0].name', message: /must be a string/ },
  { name: 'job name with control characters', yaml: spec().replace('  - name: build', '  - §name: "a\\tb"'), path: 'jobs[0].name', message: /control characters/ },
  { name: 'job name too long', yaml: spec().replace('  - name: build', `  - §name: ${'x'.repeat(101)}`), path: 'jobs[0].name', message: /at most 100 characters/ },
  { name: 'steps as a string', yaml: HEAD + 'jobs:\n  - name: a\n    §steps: x\n', path: 'jobs[0].steps', message: /must be a list/ },
  { name: 'needs as a mapping', yaml: job('§needs: {a: 1}'), path: 'jobs[0].needs', message: /must be a string/ },
  { name: 'job when as a list', yaml: job('§when: [a]'), path: 'jobs[0].when', message: /must be a string/ },
  { name: 'matrix as a list', yaml: job('§matrix: [a]'), path: 'jobs[0].matrix', message: /must be a mapping of axes/ },
  { name: 'matrix axis empty', yaml: job('matrix: {§os: []}'), path: 'jobs[0].matrix.os', message: /at least one value/ },
  { name: 'matrix value a list', yaml: job('matrix: {os: [§[1]]}'), path: 'jobs[0].matrix.os[0]', message: /matrix values must be strings, numbers or booleans/ },
  { name: 'matrix maxParallel zero', yaml: job('matrix: {os: [a], §maxParallel: 0}'), path: 'jobs[0].matrix.maxParallel', message: /at least 1/ },
  { name: 'job env as a list', yaml: job('§env: [A]'), path: 'jobs[0].env', message: /must be a mapping of environment variables/ },
  { name: 'job retry as a number', yaml: job('§retry: 3'), path: 'jobs[0].retry', message: /must be a mapping/ },
  { name: 'retry maxAttempts zero', yaml: job('retry: {§maxAttempts: 0}'), path: 'jobs[0].retry.maxAttempts', message: /at least 1/ },
  { name: 'retry maxAttempts fractional', yaml: job('retry: {§maxAttempts: 1.5}'), path: 'jobs[0].retry.maxAttempts', message: /whole number/ },
  { name: 'retry max_attempts too many', yaml: job('retry: {§max_attempts: 101}'), path: 'jobs[0].retry.max_attempts', message: /at most 100/ },
  { name: 'continueOnError not boolean', yaml: job('§continueOnError: maybe'), path: 'jobs[0].continueOnError', message: /must be true or false/ },
  { name: 'continue_on_error a number', yaml: job('§continue_on_error: 1'), path: 'jobs[0].continue_on_error', message: /must be true or false/ },
  { name: 'agentSelector as a string', yaml: job('§agentSelector: linux'), path: 'jobs[0].agentSelector', message: /must be a mapping/ },
  { name: 'matchLabels as a list', yaml: job('agentSelector: {§matchLabels: [a]}'), path: 'jobs[0].agentSelector.matchLabels', message: /must be a mapping of labels/ },
  { name: 'match operator unknown', yaml: job('agentSelector: {matchExpressions: [{key: a, §operator: Like}]}'), path: 'jobs[0].agentSelector.matchExpressions[0].operator', message: /must be one of In, NotIn, Exists, DoesNotExist/ },
  { name: 'runsOn label with spaces', yaml: job('runsOn: [§"a b"]'), path: 'jobs[0].runsOn[0]', message: /must be a label/ },
  { name: 'job source repo empty', yaml: job('source: {§repo: ""}'), path: 'jobs[0].source.repo', message: /must not be empty/ },
  { name: 'job approval timeout not a duration', yaml: job('approval: {required: true, §timeout: soon}'), path: 'jobs[0].approval.timeout', message: /must be a duration/ },
  { name: 'job target empty', yaml: job('§target: ""'), path: 'jobs[0].target', message: /must not be empty/ },
  { name: 'job notify target without uses', yaml: job('notify: {onCancel: [§{args: {}}]}'), path: 'jobs[0].notify.onCancel[0].uses', message: /missing required field 'uses'/ },
  { name: 'step name as a number', yaml: spec().replace('      - name: compile', '      - §name: 5'), path: 'jobs[0].steps[0].name', message: /must be a string/ },
  { name: 'step name with spaces around', yaml: spec().replace('      - name: compile', '      - §name: " x"'), path: 'jobs[0].steps[0].name', message: /must not start or end with spaces/ },
  { name: 'run as a list', yaml: spec({ stepBody: '§run: [make]' }), path: 'jobs[0].steps[0].run', message: /must be a string/ },
  { name: 'run blank', yaml: spec({ stepBody: '§run: "  "' }), path: 'jobs[0].steps[0].run', message: /must not be empty/ },
  { name: 'uses as a number', yaml: spec({ stepBody: '§uses: 5' }), path: 'jobs[0].steps[0].uses', message: /must be a string/ },
  { name: 'action empty', yaml: plugin('§action: ""'), path: 'jobs[0].steps[0].action', message: /must not be empty/ },
  { name: 'args as a list', yaml: plugin('§args: [1]'), path: 'jobs[0].steps[0].args', message: /must be a mapping of arguments/ },
  { name: 'step env value a mapping', yaml: step('env: {§A: {b: 1}}'), path: 'jobs[0].steps[0].env.A', message: /must be a string, number or boolean/ },
  { name: 'step when a number', yaml: step('§when: 5'), path: 'jobs[0].steps[0].when', message: /must be a string/ },
  { name: 'step timeout a boolean', yaml: step('§timeout: true'), path: 'jobs[0].steps[0].timeout', message: /must be a duration/ },
  { name: 'step continueOnError a string', yaml: step('§continueOnError: "yes"'), path: 'jobs[0].steps[0].continueOnError', message: /must be true or false/ },
  { name: 'step retry delay a number', yaml: step('retry: {§delay: 5}'), path: 'jobs[0].steps[0].retry.delay', message: /must be a duration/ },
  { name: 'workingDirectory absolute', yaml: step('§workingDirectory: /etc'), path: 'jobs[0].steps[0].workingDirectory', message: /relative to the workspace/ },
  { name: 'working_directory escaping', yaml: step('§working_directory: ../x'), path: 'jobs[0].steps[0].working_directory', message: /does not leave it/ },
  { name: 'workingDirectory ../../etc', yaml: step('§workingDirectory: ../../etc'), path: 'jobs[0].steps[0].workingDirectory', message: /does not leave it/ },
  { name: 'workingDirectory escaping after a detour', yaml: step('§workingDirectory: ./a/../../../etc'), path: 'jobs[0].steps[0].workingDirectory', message: /does not leave it/ },
  { name: 'workingDirectory a number', yaml: step('§workingDirectory: 5'), path: 'jobs[0].steps[0].workingDirectory', message: /must be a string/ },
];

const STRUCTURE: Case[] = [
  { name: 'missing namespace', yaml: `§${spec().replace('namespace: demo.pipeline\n', '')}`, path: 'namespace', message: /^missing required field 'namespace'$/ },
  { name: 'missing version', yaml: `§${spec().replace('version: v1\n', '')}`, path: 'version', message: /^missing required field 'version'$/ },
  { name: 'missing jobs and stages', yaml: `§${HEAD}`, path: '', message: /needs 'stages'.*or 'jobs'/ },
  { name: 'missing job name', yaml: HEAD + 'jobs:\n  - §steps: [{name: s, run: x}]\n', path: 'jobs[0].name', message: /^missing required field 'name'$/ },
  { name: 'missing steps', yaml: HEAD + 'jobs:\n  - §name: a\n', path: 'jobs[0].steps', message: /^missing required field 'steps'$/ },
  { name: 'empty steps', yaml: HEAD + 'jobs:\n  - name: a\n    §steps: []\n', path: 'jobs[0].steps', message: /at least one step/ },
  { name: 'missing step name', yaml: HEAD + 'jobs:\n  - name: a\n    steps:\n      - §run: x\n', path: 'jobs[0].steps[0].name', message: /^missing required field 'name'$/ },
  { name: 'step with neither run nor uses', yaml: HEAD + 'jobs:\n  - name: a\n    steps:\n      - §name: s\n', path: 'jobs[0].steps[0]', message: /needs 'run'.*or 'uses'/ },
  { name: 'step with both run and uses', yaml: spec({ stepBody: 'run: make\n§uses: a/b@v1' }), path: 'jobs[0].steps[0].uses', message: /either 'run'.*or 'uses'.*not both/ },
  { name: 'args on a run step', yaml: spec({ stepBody: '§run: make\nargs: {a: 1}' }), path: 'jobs[0].steps[0].run', message: /'action' and 'args' only apply/ },
  { name: 'missing stage name', yaml: HEAD + 'stages:\n  - §jobs: [{name: a, steps: [{name: s, run: x}]}]\n', path: 'stages[0].name', message: /^missing required field 'name'$/ },
  { name: 'missing stage jobs', yaml: HEAD + 'stages:\n  - §name: s\n', path: 'stages[0].jobs', message: /^missing required field 'jobs'$/ },
  { name: 'both stages and jobs', yaml: HEAD + 'stages: [{name: s, jobs: [{name: a, steps: [{name: s, run: x}]}]}]\n§jobs: [{name: b, steps: [{name: s, run: x}]}]\n', path: 'jobs', message: /either 'stages' or 'jobs'/ },
  { name: 'missing source repo', yaml: top('§source: {ref: main}'), path: 'source.repo', message: /^missing required field 'repo'$/ },
  { name: 'missing trigger options', yaml: top('triggers: [§{type: cron}]'), path: 'triggers[0].options', message: /^missing required field 'options'$/ },
  { name: 'missing event list', yaml: top('triggers: [{type: event, §options: {branches: [main]}}]'), path: 'triggers[0].options.events', message: /^missing required field 'events'$/ },
  { name: 'missing match expression key', yaml: job('agentSelector: {matchExpressions: [§{operator: Exists}]}'), path: 'jobs[0].agentSelector.matchExpressions[0].key', message: /^missing required field 'key'$/ },
  { name: 'In without values', yaml: job('agentSelector: {matchExpressions: [{key: a, operator: In, §values: []}]}'), path: 'jobs[0].agentSelector.matchExpressions[0].values', message: /need a non-empty values list/ },
  { name: 'unknown top-level field', yaml: top('§namespce: x'), path: 'namespce', message: /unknown field 'namespce' in pipeline; did you mean 'namespace'\?/ },
  { name: 'unknown job field', yaml: job('§stpes: []'), path: 'jobs[0].stpes', message: /did you mean 'steps'\?/ },
  { name: 'unknown step field', yaml: step('§shell: bash'), path: 'jobs[0].steps[0].shell', message: /unknown field 'shell' in step/ },
  { name: 'prototype key', yaml: job('env:\n  §__proto__: {x: 1}'), path: 'jobs[0].env.__proto__', message: /is not allowed as a key/ },
  { name: 'approval without effect is only a warning, but a bad field is an error', yaml: top('approval: {§approverz: [a]}'), path: 'approval.approverz', message: /did you mean 'approvers'\?/ },
];

const DUPLICATES: Case[] = [
  { name: 'duplicate job names', yaml: HEAD + 'jobs:\n  - {name: a, steps: [{name: s, run: x}]}\n  - {§name: a, steps: [{name: s, run: x}]}\n', path: 'jobs[1].name', message: /job name 'a' is already used by jobs\[0\]/ },
  { name: 'duplicate job names across stages', yaml: HEAD + 'stages:\n  - {name: one, jobs: [{name: a, steps: [{name: s, run: x}]}]}\n  - {name: two, jobs: [{§name: a, steps: [{name: s, run: x}]}]}\n', path: 'stages[1].jobs[0].name', message: /already used by stages\[0\]\.jobs\[0\]/ },
  { name: 'duplicate step names', yaml: spec({ more: '      - §name: compile\n        run: again\n' }), path: 'jobs[0].steps[1].name', message: /step name 'compile' is already used by steps\[0\]/ },
  { name: 'duplicate stage names', yaml: HEAD + 'stages:\n  - {name: one, jobs: [{name: a, steps: [{name: s, run: x}]}]}\n  - {§name: one, jobs: [{name: b, steps: [{name: s, run: x}]}]}\n', path: 'stages[1].name', message: /stage name 'one' is already used/ },
  { name: 'duplicate YAML key', yaml: spec().replace('version: v1\n', 'version: v1\n§version: v1\n'), path: '', message: /this key appears twice/ },
  { name: 'field in two spellings', yaml: job('continueOnError: true\n§continue_on_error: false'), path: 'jobs[0].continue_on_error', message: /repeats a field/ },
  { name: 'needs and depends_on together', yaml: HEAD + 'jobs:\n  - {name: a, steps: [{name: s, run: x}]}\n  - {name: b, needs: [a], §depends_on: [a], steps: [{name: s, run: x}]}\n', path: 'jobs[1].depends_on', message: /keep only one/ },
  { name: 'matrix job key clashing with another job', yaml: HEAD + 'jobs:\n  - {name: b, matrix: {x: [1]}, steps: [{name: s, run: x}]}\n  - {§name: "b (x=1)", steps: [{name: s, run: x}]}\n', path: 'jobs[1].name', message: /produces the job key 'b \(x=1\)', which job 'b' produces too/ },
];

const DURATIONS = ['10 minutes', 'soon', '1.5h', '-1s', '1y', 'h1', '90', '1h 30m', '""', '5 s'];
const BAD_DURATIONS: Case[] = [
  ...DURATIONS.map((d): Case => ({ name: `job timeout ${d}`, yaml: job(`§timeout: ${d}`), path: 'jobs[0].timeout', message: /must be a duration/ })),
  ...DURATIONS.slice(0, 4).map((d): Case => ({ name: `step timeout ${d}`, yaml: step(`§timeout: ${d}`), path: 'jobs[0].steps[0].timeout', message: /must be a duration/ })),
  ...DURATIONS.slice(0, 4).map((d): Case => ({ name: `retry delay ${d}`, yaml: job(`retry: {maxAttempts: 2, §delay: ${d}}`), path: 'jobs[0].retry.delay', message: /must be a duration such as/ })),
  { name: 'zero timeout', yaml: job('§timeout: 0s'), path: 'jobs[0].timeout', message: /greater than zero/ },
  { name: 'pipeline timeout', yaml: top('§timeout: forever'), path: 'timeout', message: /must be a duration/ },
  { name: 'approval timeout', yaml: top('approval: {required: true, §timeout: 1 day}'), path: 'approval.timeout', message: /must be a duration/ },
];

const REFS = ['go-build', 'actions/go-build', 'actions/go-build@latest', 'actions/go-build@1.2', '/x@v1', 'a/b/c@v1', '"actions/go build@v1"', '"@v1"', 'a/@v1', 'actions/go-build@v1.2', 'Actions/Go_Build@V1.2.3.4'];
const BAD_USES: Case[] = [
  ...REFS.map((ref): Case => ({ name: `uses ${ref}`, yaml: spec({ stepBody: `§uses: ${ref}` }), path: 'jobs[0].steps[0].uses', message: /must name a plugin as <owner>\/<name>@<version>/ })),
  { name: 'notify uses', yaml: top('notify: {on_failure: [{§uses: slack}]}'), path: 'notify.on_failure[0].uses', message: /must name a plugin/ },
];

const EXPRESSIONS: Case[] = [
  { name: 'unknown context in run', yaml: spec({ stepBody: 'run: echo ${{ §github.ref }}' }), path: 'jobs[0].steps[0].run', message: /unknown context 'github'; use one of trigger, variables, env, matrix, secrets, pipeline, job, steps/ },
  { name: 'unknown context inputs', yaml: spec({ stepBody: 'run: echo ${{ §inputs.x }}' }), path: 'jobs[0].steps[0].run', message: /unknown context 'inputs'/ },
  { name: 'unknown context runner', yaml: step("env: {OS: '${{ §runner.os }}'}"), path: 'jobs[0].steps[0].env.OS', message: /unknown context 'runner'/ },
  { name: 'unknown context in job env', yaml: job('env: {V: "${{ §vars.x }}"}'), path: 'jobs[0].env.V', message: /unknown context 'vars'/ },
  { name: 'unknown context in pipeline env', yaml: top('env: {V: "x-${{ §foo }}"}'), path: 'env.V', message: /unknown context 'foo'/ },
  { name: 'unknown context in args', yaml: plugin('args: {ref: "${{ §git.ref }}"}'), path: 'jobs[0].steps[0].args.ref', message: /unknown context 'git'/ },
  { name: 'unknown context in job when', yaml: job("when: §branch == 'main'"), path: 'jobs[0].when', message: /unknown context 'branch'/ },
  { name: 'unknown context in step when', yaml: step("when: ${{ success() && §github.event_name == 'push' }}"), path: 'jobs[0].steps[0].when', message: /unknown context 'github'/ },
  { name: 'unknown context in a notify arg', yaml: top('notify: {onSuccess: [{uses: a/b@v1, args: {text: "${{ §run.id }}"}}]}'), path: 'notify.onSuccess[0].args.text', message: /unknown context 'run'/ },
  { name: 'unknown trigger property', yaml: spec({ stepBody: 'run: echo ${{ trigger.§sha }}' }), path: 'jobs[0].steps[0].run', message: /unknown property 'sha' of trigger/ },
  { name: 'unknown pipeline property', yaml: spec({ stepBody: 'run: echo ${{ pipeline.§owner }}' }), path: 'jobs[0].steps[0].run', message: /unknown property 'owner' of pipeline/ },
  { name: 'steps of a later step', yaml: spec({ stepBody: 'run: echo ${{ steps.§ship.outputs.v }}', more: '      - name: ship\n        run: x\n' }), path: 'jobs[0].steps[0].run', message: /steps\.ship does not name an earlier step/ },
  { name: 'steps in job env', yaml: job('env: {V: "${{ §steps.a.outputs.b }}"}'), path: 'jobs[0].env.V', message: /only available inside a job's steps/ },
  { name: 'matrix without a matrix', yaml: spec({ stepBody: 'run: echo ${{ §matrix.os }}' }), path: 'jobs[0].steps[0].run', message: /no matrix applies here/ },
  { name: 'unknown matrix key', yaml: spec({ job: 'matrix: {os: [a]}', stepBody: 'run: echo ${{ matrix.§arch }}' }), path: 'jobs[0].steps[0].run', message: /the matrix has no key 'arch'; its keys are os/ },
  { name: 'unknown function', yaml: spec({ stepBody: "run: echo ${{ §hashFiles('x') }}" }), path: 'jobs[0].steps[0].run', message: /unknown function 'hashFiles'/ },
  { name: 'wrong argument count', yaml: spec({ stepBody: "run: echo ${{ §startsWith('x') }}" }), path: 'jobs[0].steps[0].run', message: /startsWith\(\) takes 2 arguments, got 1/ },
  { name: 'syntax error', yaml: spec({ stepBody: 'run: echo ${{ trigger.ref §= 1 }}' }), path: 'jobs[0].steps[0].run', message: /'=' is not an operator/ },
  { name: 'double-quoted string literal', yaml: step("when: ${{ trigger.ref == §\"main\" }}"), path: 'jobs[0].steps[0].when', message: /single quotes/ },
  { name: 'unclosed expression', yaml: spec({ stepBody: 'run: echo §${{ trigger.ref' }), path: 'jobs[0].steps[0].run', message: /has no closing '}}'/ },
  { name: 'empty expression', yaml: spec({ stepBody: 'run: echo §${{ }}' }), path: 'jobs[0].steps[0].run', message: /is empty/ },
  { name: 'mixed condition', yaml: job('when: ${{ a }} §&& b'), path: 'jobs[0].when', message: /a condition must be one expression/ },
];

const NEEDS: Case[] = [
  { name: 'two-job cycle', yaml: HEAD + 'jobs:\n  - {name: a, needs: [b], steps: [{name: s, run: x}]}\n  - {name: b, needs: [§a], steps: [{name: s, run: x}]}\n', path: 'jobs[1].needs[0]', message: /dependency cycle: 'a' → 'b' → 'a'/ },
  { name: 'three-job cycle', yaml: HEAD + 'jobs:\n  - {name: a, needs: [c], steps: [{name: s, run: x}]}\n  - {name: b, needs: [§a], steps: [{name: s, run: x}]}\n  - {name: c, needs: [b], steps: [{name: s, run: x}]}\n', path: 'jobs[1].needs[0]', message: /dependency cycle: 'a' → 'c' → 'b' → 'a'/ },
  { name: 'self need', yaml: HEAD + 'jobs:\n  - {name: a, needs: [§a], steps: [{name: s, run: x}]}\n', path: 'jobs[0].needs[0]', message: /cannot need itself/ },
  { name: 'need of a later stage', yaml: HEAD + 'stages:\n  - {name: one, jobs: [{name: a, needs: [§b], steps: [{name: s, run: x}]}]}\n  - {name: two, jobs: [{name: b, steps: [{name: s, run: x}]}]}\n', path: 'stages[0].jobs[0].needs[0]', message: /later stage/ },
  { name: 'need of an unknown job', yaml: HEAD + 'jobs:\n  - {name: build, steps: [{name: s, run: x}]}\n  - {name: b, needs: [§biuld], steps: [{name: s, run: x}]}\n', path: 'jobs[1].needs[0]', message: /no job has that name; did you mean 'build'\?/ },
];

const axis = (n: number) => `[${Array.from({ length: n }, (_, i) => i).join(', ')}]`;
const MATRIX: Case[] = [
  { name: 'matrix of 272', yaml: job(`§matrix: {a: ${axis(17)}, b: ${axis(16)}}`), path: 'jobs[0].matrix', message: /expands to 272 combinations; at most 256/ },
  { name: 'matrix of 257 on one axis', yaml: job(`§matrix: {a: ${axis(257)}}`), path: 'jobs[0].matrix', message: /expands to 257 combinations/ },
  { name: 'matrix product far over the limit', yaml: job(`§matrix: {a: ${axis(100)}, b: ${axis(100)}, c: ${axis(100)}}`), path: 'jobs[0].matrix', message: /expands to 1000000 combinations/ },
  { name: 'include pushing over the limit', yaml: job(`§matrix: {a: ${axis(16)}, b: ${axis(16)}, include: [{a: x, b: y}]}`), path: 'jobs[0].matrix', message: /expands to 257 combinations/ },
  { name: 'exclude of everything', yaml: job('matrix: {a: [1], §exclude: [{a: 1}]}'), path: 'jobs[0].matrix.exclude', message: /excludes every combination/ },
  { name: 'exclude of an unknown axis', yaml: job('matrix: {a: [1, 2], exclude: [{§b: 1}]}'), path: 'jobs[0].matrix.exclude[0].b', message: /not a matrix axis/ },
  { name: 'too many jobs with matrices', yaml: `§${HEAD}jobs:\n  - {name: a, matrix: {n: ${axis(250)}}, steps: [{name: s, run: x}]}\n  - {name: b, matrix: {n: ${axis(251)}}, steps: [{name: s, run: x}]}\n`, path: '', message: /has 501 jobs/ },
];

const INVALID: Case[] = [...WRONG_TYPE, ...STRUCTURE, ...DUPLICATES, ...BAD_DURATIONS, ...BAD_USES, ...EXPRESSIONS, ...NEEDS, ...MATRIX];

/** The text without its § marker, and the 1-based line and column where the marker was. */
function marked(yaml: string): { text: string; line?: number; column?: number } {
  const at = yaml.indexOf('§');
  if (at < 0) return { text: yaml };
  const before = yaml.slice(0, at);
  const line = before.split('\n').length;
  return { text: yaml.slice(0, at) + yaml.slice(at + 1), line, column: at - before.lastIndexOf('\n') };
}

describe('valid specs', () => {
  it.each(VALID.map((c) => [c.name, c]))('%s', (_name, c) => {
    const result = compilePipeline(c.yaml, { format: 'yaml' });
    expect(result.errors).toEqual([]);
    expect(result.valid).toBe(true);
  });
});

describe('invalid specs', () => {
  it.each(INVALID.map((c) => [c.name, c]))('%s', (_name, c) => {
    const { text, line, column } = marked(c.yaml);
    expect(line, 'every invalid case marks its position with §').toBeDefined();
    const result = compilePipeline(text, { format: 'yaml' });
    expect(result.valid).toBe(false);
    const found = result.errors.filter((e) => e.path === c.path);
    expect(found, JSON.stringify(result.errors, null, 2)).toHaveLength(1);
    expect(found[0].message).toMatch(c.message!);
    expect({ line: found[0].line, column: found[0].column }).toEqual({ line, column });
  });
});

describe('the table', () => {
  it('has at least 150 cases', () => {
    expect(VALID.length + INVALID.length).toBeGreaterThanOrEqual(150);
  });
});
