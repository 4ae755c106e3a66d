// Step activities, executed by an agent on its own task queue: run one step in the job's workspace.
import { closeSync, constants, fstatSync, mkdirSync, openSync, readSync, rmSync, unlinkSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { CompiledStep } from '../src/spec/model';
import type { ProcessLauncher } from '../src/agent/process-spawner';
import { directLauncher } from '../src/agent/process-spawner';
import type { LogSink, StepLogWriter } from '../src/agent/log-sink';
import { createMemoryLogSink, feedLog } from '../src/agent/log-sink';
import type { RunningProcess } from '../src/agent/process-runner';
import type { JobSlots } from '../src/agent/job-slots';
import { createSecretMasker } from '../src/agent/secret-masker';
import type { CataloguePlugin, PluginCatalogue } from '../src/plugins/catalogue';
import { SHELL_PLUGIN_NAME } from '../src/plugins/catalogue';
import type { Transitions } from '../src/store/transitions';
import type { StepAttempt, StepSuccessions } from '../src/agent/step-succession';

export interface StepActivityDeps {
  agentId: string;
  workspaceRoot: string;
  logSink: LogSink;
  plugins: PluginCatalogue;
  slots: JobSlots;
  /** The agent reports its steps' statuses itself, as the holder of their job. */
  transitions: Transitions;
  /** Where a step dispatched ahead waits for the one before it. */
  successions: StepSuccessions;
  killGraceMs: number;
  heartbeatEveryMs?: number;
  /** What starts step processes (the agent's spawner; by default, this process itself). */
  launcher?: ProcessLauncher;
}

export interface RunStepInput {
  runId: string;
  jobRunId: string;
  stepRunId: string;
  step: CompiledStep;
  env: Record<string, string>;
  secrets: string[];
  timeoutMs: number;
  pipelineId?: string;
  /** The job's source, for actions/git-checkout. */
  source?: { repo: string; ref?: string };
  attempt: number;
  /** No attempt follows this one: whatever it ends with is the step's final status. */
  lastAttempt: boolean;
  /** The step the workflow runs next if this one succeeds: the agent queues it with this one's end. */
  queueNext?: string;
  /** The job's last step: once its result is final, the agent frees the job's slot itself. */
  lastStep?: boolean;
  /**
   * …dispatched while nothing in the job has failed: its success is the job's, recorded with it
   * (and with `run`, the run's too: the job is the run's only one, no failure was allowed in it).
   * The run's end is then known a workflow task or two sooner.
   */
  finishesJob?: { run: boolean };
  /**
   * Dispatched ahead: this step starts only once that attempt of the step before it has succeeded
   * on this agent, and otherwise ends at once with `notStarted`.
   */
  after?: StepAttempt;
  /**
   * The job's deadline, in ms from when this activity starts (a step dispatched ahead, whose wait
   * counts against it): the step's own timeout is cut to what is left once it may start.
   */
  endsWithinMs?: number;
  /** This dispatch of the step, unique to its workflow run: what a step dispatched after it names. */
  dispatchId?: string;
}

type ExecuteInput = Omit<RunStepInput, 'attempt' | 'lastAttempt' | 'queueNext' | 'lastStep' | 'finishesJob' | 'after' | 'endsWithinMs' | 'dispatchId'>;

export type StepEndReason = 'exit_nonzero' | 'timeout' | 'cancelled' | 'setup_failed' | 'killed' | 'outputs_too_large' | 'outputs_unreadable';

export interface RunStepResult {
  status: 'success' | 'failed' | 'timeout' | 'cancelled';
  exitCode: number | null;
  outputs: Record<string, string>;
  reason?: StepEndReason;
  message?: string;
  lines: number;
  /** The agent has already written this result as the step's status. */
  recorded?: boolean;
  /** The agent queued the step named by `queueNext`. */
  nextQueued?: boolean;
  /** The agent freed the job's slot (the job's last step, final). */
  released?: boolean;
  /** The agent recorded the job `success` with this step's (see RunStepInput.finishesJob)… */
  jobRecorded?: boolean;
  /** …and the run's. */
  runRecorded?: boolean;
  /** A step dispatched ahead that did not start, and why: nothing was run. */
  notStarted?: string;
  /** …though the end before it had recorded it running (it was let go at that moment). */
  runningRecorded?: boolean;
  /** A timeout that the job's deadline set (`endsWithinMs`), not the step's own. */
  deadlineCut?: boolean;
}

/** A step dispatched ahead that is not to start (see RunStepInput.after). */
class NotStarted extends Error {
  constructor(
    readonly reason: string,
    readonly runningRecorded = false,
  ) {
    super(`not started: ${reason}`);
  }
}

/** How long a step dispatched ahead waits for the step before it to reach this agent at all. */
const AHEAD_UNSEEN_MS = 10_000;

/** A workspace path that cannot leave the workspace root, whatever the ids contain. */
export function workspaceFor(root: string, runId: string, jobRunId: string): string {
  const dir = resolve(root, runId, jobRunId);
  if (!dir.startsWith(resolve(root) + sep)) throw ApplicationFailure.nonRetryable(`workspace escapes ${root}`, 'SetupFailed');
  return dir;
}

/** Artifacts of a run live beside its workspaces, under the data dir, keyed by run. */
export function artifactDirFor(workspaceRoot: string, runId: string): string {
  const dir = resolve(workspaceRoot, '..', 'artifacts', runId);
  if (!dir.startsWith(resolve(workspaceRoot, '..', 'artifacts') + sep)) throw ApplicationFailure.nonRetryable('artifact dir escapes the data dir', 'SetupFailed');
  return dir;
}

function insideWorkspace(workspace: string, sub: string | undefined): string {
  if (!sub) return workspace;
  const dir = resolve(workspace, sub);
  const rel = relative(workspace, dir);
  if (rel.startsWith('..') || resolve(workspace, rel) !== dir) {
    throw ApplicationFailure.nonRetryable(`workingDirectory "${sub}" leaves the workspace`, 'SetupFailed');
  }
  return dir;
}

/**
 * Outputs travel in the workflow's history: a step whose output file, or whose outputs as they
 * are sent (JSON), pass this size fails instead.
 */
export const MAX_OUTPUT_FILE_BYTES = 1024 * 1024;

/**
 * Removes a step's output file if it is there, or whatever the step left in its place: a link
 * (never followed) or a directory (with what it holds), so that a later attempt of the step finds
 * the path free. unlinkSync first: rmSync's directory walk cost two lstats per step.
 */
function removeOutputFile(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if (code !== 'EISDIR' && code !== 'EPERM') throw err;
    rmSync(file, { recursive: true, force: true });
  }
}

/** The step's output file, made empty, never through a link a step left in its place. */
function makeOutputFile(file: string): void {
  removeOutputFile(file);
  closeSync(openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o644));
}

type TakenOutputs = { outputs: Record<string, string> } | { problem: string; tooLarge: boolean };

/**
 * Reads and removes a step's $ARCENTRA_OUTPUT file. Synchronously, as its making: a small local
 * file between one step and the next, where each thread-pool round trip cost more than the call
 * (BENCHMARKS.md, session 8). Never through a link, and never more than the limit is read.
 */
function takeOutputs(file: string): TakenOutputs {
  try {
    let fd: number;
    try {
      fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { outputs: {} }; // removed by the step: none
      return { problem: `$ARCENTRA_OUTPUT could not be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`, tooLarge: false };
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) return { problem: '$ARCENTRA_OUTPUT is not a regular file', tooLarge: false };
      if (stat.size > MAX_OUTPUT_FILE_BYTES) return { problem: `$ARCENTRA_OUTPUT holds ${stat.size} bytes, more than the ${MAX_OUTPUT_FILE_BYTES} a step's outputs may take`, tooLarge: true };
      const buffer = Buffer.alloc(stat.size);
      let read = 0;
      for (let n = 1; n > 0 && read < buffer.length; read += n) n = readSync(fd, buffer, read, buffer.length - read, read);
      const outputs = parseOutputs(buffer.subarray(0, read).toString('utf8'));
      const sent = Buffer.byteLength(JSON.stringify(outputs));
      if (sent > MAX_OUTPUT_FILE_BYTES) return { problem: `the outputs in $ARCENTRA_OUTPUT take ${sent} bytes as sent, more than the ${MAX_OUTPUT_FILE_BYTES} a step's outputs may take`, tooLarge: true };
      return { outputs };
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    return { problem: `$ARCENTRA_OUTPUT could not be read (${(err as Error).message})`, tooLarge: false };
  } finally {
    try {
      removeOutputFile(file);
    } catch {
      // not removable (permissions the step changed): making the next one will say so
    }
  }
}

/** `key=value` lines appended to $ARCENTRA_OUTPUT become step outputs. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) outputs[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return outputs;
}

/** Plugin args reach the plugin as ARC_ARG_<NAME> variables and as JSON on stdin: data, never code. */
export function argsEnv(args: Record<string, unknown>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(args)) {
    env[`ARC_ARG_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  return env;
}

/** How long a stopped step's last lines may take to be acknowledged before they are given up. */
export const STOPPED_LOG_GRACE_MS = 3000;

const BASH = ['--noprofile', '--norc', '-eo', 'pipefail', '-c'];

function commandFor(step: CompiledStep, plugins: PluginCatalogue): { command: string; args: string[]; env: Record<string, string>; stdin?: string } | { error: string } {
  if (step.run !== undefined) return { command: 'bash', args: [...BASH, step.run], env: {} };
  const resolved = plugins.resolve(step.uses);
  if (!resolved.ok) return { error: `plugin ${step.uses} is not available on this agent: ${resolved.message}` };
  const plugin = resolved.plugin as CataloguePlugin;
  if (plugin.name === SHELL_PLUGIN_NAME) {
    const script = step.args.script;
    if (typeof script !== 'string') return { error: 'actions/shell needs args.script' };
    return { command: 'bash', args: [...BASH, script], env: {} };
  }
  if (!plugin.dir || !plugin.manifest.entrypoint) return { error: `plugin ${plugin.name}@${plugin.version} has no entrypoint` };
  const entry = resolve(plugin.dir, plugin.manifest.entrypoint);
  if (!entry.startsWith(plugin.dir + sep)) return { error: `plugin ${plugin.name}: entrypoint leaves its folder` };
  const action = step.action ?? plugin.defaultAction ?? '';
  return { command: entry, args: [], env: { ...argsEnv(step.args), ARCENTRA_ACTION: action, ARCENTRA_PLUGIN_DIR: plugin.dir }, stdin: JSON.stringify({ action, args: step.args }) };
}

export function createStepActivities(deps: StepActivityDeps) {
  return {
    /** The job is over: its slot on this agent is free again. */
    async releaseAgent(input: { jobRunId: string }): Promise<void> {
      deps.slots.release(input.jobRunId);
    },

    async runStep(input: RunStepInput): Promise<RunStepResult> {
      const reporter = { agentId: deps.agentId };
      const self = { stepRunId: input.stepRunId, attempt: input.attempt, dispatchId: input.dispatchId ?? '' };
      const arrived = Date.now();
      deps.successions.began(self);
      let succeeded = false;
      let nextRunning = false;
      try {
        // Refused (NotOwner) unless this agent holds the step's job: nothing runs then. A step
        // dispatched ahead starts only once the attempt before it has succeeded here, with what is
        // left of the job's time then (execute reads the timeout only once the step may start).
        // The workspace is prepared meanwhile.
        const step = { ...input };
        const running = input.after
          ? startAfter(input.after, input.stepRunId, reporter, () => {
              if (input.endsWithinMs !== undefined) step.timeoutMs = Math.min(input.timeoutMs, input.endsWithinMs - (Date.now() - arrived));
              return step.timeoutMs > 0;
            })
          : deps.transitions.recordStepStatus({ stepRunId: input.stepRunId, status: 'running', attempt: input.attempt }, reporter);
        running.catch(() => undefined); // observed below; this only keeps an early setup failure from orphaning it
        let result: RunStepResult;
        try {
          result = await execute(step, deps.logSink, running, !!input.after);
        } catch (err) {
          if (!(err instanceof NotStarted)) throw err;
          return { status: 'cancelled', exitCode: null, outputs: {}, lines: 0, notStarted: err.reason, ...(err.runningRecorded ? { runningRecorded: true } : {}) };
        }
        // Ended by the job's deadline rather than its own timeout: the workflow tells the job timed out.
        if (result.status === 'timeout' && step.timeoutMs < input.timeoutMs) result.deadlineCut = true;
        if (result.status === 'success' || result.status === 'cancelled' || input.lastAttempt) {
          const end = { stepRunId: input.stepRunId, status: result.status, exitCode: result.exitCode, outputs: result.outputs, reason: result.message ?? result.reason };
          // The next step, when it already waits here, is recorded running with this one's end.
          const startNext = !!input.queueNext && result.status === 'success' && deps.successions.awaited(self);
          // A step whose activity was cancelled (a stop) ends nothing more than itself.
          const finishes =
            input.lastStep && input.finishesJob && !Context.current().cancellationSignal.aborted
              ? { jobRunId: input.jobRunId, ...(input.finishesJob.run ? { runId: input.runId } : {}) }
              : undefined;
          const written = await deps.transitions.recordStepEnd(end, reporter, input.queueNext, startNext, finishes);
          succeeded = result.status === 'success';
          nextRunning = written.nextRunning;
          if (input.lastStep) deps.slots.release(input.jobRunId);
          return {
            ...result,
            recorded: true,
            ...(input.queueNext ? { nextQueued: written.nextQueued || written.nextRunning } : {}),
            ...(input.lastStep ? { released: true } : {}),
            ...(written.jobEnded ? { jobRecorded: true } : {}),
            ...(written.runEnded ? { runRecorded: true } : {}),
          };
        }
        return result;
      } finally {
        deps.successions.ended(self, succeeded, nextRunning);
      }
    },

    /** A notification: a plugin step outside the run's tree. Failing throws, so Temporal retries it. */
    async sendNotification(input: ExecuteInput): Promise<RunStepResult> {
      // A notice is not a StepRun: its output has no log of its own, but its tail explains a failure.
      const output = createMemoryLogSink();
      const result = await execute(input, output);
      if (result.status !== 'success') {
        const tail = output.tail().slice(-5).join(' | ');
        throw ApplicationFailure.retryable(`${input.step.uses ?? 'notification'} ended ${result.status}${result.message ? `: ${result.message}` : ''}${tail ? ` (output: ${tail})` : ''}`, 'NotificationFailed');
      }
      return result;
    },
  };

  /**
   * Waits for the attempt before this step to succeed on this agent, then records this step
   * running (unless that attempt's end did). Throws NotStarted when the step is not to start.
   */
  async function startAfter(before: StepAttempt, stepRunId: string, reporter: { agentId: string }, timeLeft: () => boolean): Promise<void> {
    const succession = await deps.successions.waitFor(before, Context.current().cancellationSignal, AHEAD_UNSEEN_MS);
    if (!succession.go) throw new NotStarted(succession.reason, succession.runningRecorded);
    // Out of time: not started, so that the workflow records the job's timeout as it does for any step.
    if (!timeLeft()) throw new NotStarted('out_of_time', succession.runningRecorded);
    if (succession.runningRecorded) return;
    // Paused or stopped meanwhile, or no longer this agent's job: the workflow decides what is next.
    if (!(await deps.transitions.recordStepStartedAhead(stepRunId, reporter))) throw new NotStarted('refused');
  }

  /**
   * Runs the step's process; `mayStart`, when given, must resolve before it is spawned. A step
   * that `waitsItsTurn` (dispatched ahead) heartbeats from now, and touches the workspace only once
   * it may start.
   */
  async function execute(input: ExecuteInput, logSink: LogSink, mayStart?: Promise<void>, waitsItsTurn = false): Promise<RunStepResult> {
    deps.slots.touch(input.jobRunId);
    let shipping: StepLogWriter | undefined;
    const beat = beatOnceStarted(input.jobRunId, waitsItsTurn ? Promise.resolve() : mayStart, () => shipping?.linesWritten ?? 0);
    try {
      const workspace = workspaceFor(deps.workspaceRoot, input.runId, input.jobRunId);
      const cwd = insideWorkspace(workspace, input.step.workingDirectory);
      const outputFile = join(workspace, '..', `.outputs-${input.stepRunId}`);
      // The workspace and the step's `running` (which refuses a job this agent does not hold) are
      // made ready at once; both outcomes are observed, and a refusal stops it all. A step waiting
      // its turn leaves the workspace alone until then: the step before still works in it.
      const prepare = async () => {
        mkdirSync(cwd, { recursive: true });
        makeOutputFile(outputFile);
      };
      const preparing = waitsItsTurn && mayStart ? mayStart.then(prepare) : prepare();
      const [started, prepared] = await Promise.allSettled([mayStart, preparing]);
      const failed = [started, prepared].find((r) => r.status === 'rejected');
      if (failed) {
        try {
          removeOutputFile(outputFile);
        } catch {
          // the failure below is the one to tell
        }
        throw failed.reason;
      }
      const log = (shipping = await logSink.open(input.stepRunId, createSecretMasker(input.secrets)));
      const ctx = await beat.context;
      // A stop gives up, in seconds, on lines no server has taken: when no server can be reached,
      // the step still ends.
      const stopped = { withinMs: STOPPED_LOG_GRACE_MS, from: ctx.cancellationSignal };
      const command = commandFor(input.step, deps.plugins);
      if ('error' in command) {
        log.write('system', command.error);
        await log.close(stopped);
        return { status: 'failed', exitCode: null, outputs: {}, reason: 'setup_failed', message: command.error, lines: log.linesWritten };
      }
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
        HOME: process.env.HOME ?? workspace,
        LANG: process.env.LANG ?? 'C.UTF-8',
        ...input.env,
        ...command.env,
        ...(input.source ? { ARCENTRA_SOURCE_REPO: input.source.repo, ARCENTRA_SOURCE_REF: input.source.ref ?? '' } : {}),
        ARCENTRA_WORKSPACE: workspace,
        ARCENTRA_ARTIFACT_DIR: artifactDirFor(deps.workspaceRoot, input.runId),
        ARCENTRA_OUTPUT: outputFile,
        ARCENTRA_RUN_ID: input.runId,
        ...(input.pipelineId ? { ARCENTRA_PIPELINE_ID: input.pipelineId } : {}),
        ARCENTRA_JOB_RUN_ID: input.jobRunId,
        ARCENTRA_STEP_RUN_ID: input.stepRunId,
        CI: 'true',
      };
      const proc: RunningProcess = (deps.launcher ?? directLauncher).run(
        { command: command.command, args: command.args, cwd, env, timeoutMs: input.timeoutMs, killGraceMs: deps.killGraceMs, stdin: command.stdin },
        feedLog(log, () => proc),
      );
      ctx.cancelled.catch(() => proc.cancel());
      // Still beating while the last lines are acknowledged: a slow server is not a lost agent.
      const end = await proc.done;
      const taken = takeOutputs(outputFile);
      if ('problem' in taken) log.write('system', taken.problem);
      await log.close(stopped);
      const outputs = 'outputs' in taken ? taken.outputs : {};
      const lines = log.linesWritten;
      // Outputs it could not take fail a step that otherwise succeeded: a later step may need them.
      if ('problem' in taken && end.kind === 'exited' && end.exitCode === 0) {
        return { status: 'failed', exitCode: 0, outputs, reason: taken.tooLarge ? 'outputs_too_large' : 'outputs_unreadable', message: taken.problem, lines };
      }
      switch (end.kind) {
        case 'exited':
          return end.exitCode === 0
            ? { status: 'success', exitCode: 0, outputs, lines }
            : { status: 'failed', exitCode: end.exitCode, outputs, reason: 'exit_nonzero', lines };
        case 'timeout':
          return { status: 'timeout', exitCode: null, outputs, reason: 'timeout', lines };
        case 'cancelled':
          return { status: 'cancelled', exitCode: null, outputs, reason: 'cancelled', lines };
        case 'signalled':
          return { status: 'failed', exitCode: null, outputs, reason: 'killed', message: `killed by ${end.signal}`, lines };
        case 'spawn_failed':
          return { status: 'failed', exitCode: null, outputs, reason: 'setup_failed', message: end.message, lines };
      }
    } finally {
      beat.stop();
    }
  }

  /**
   * Heartbeats from the moment the step may start, while its last lines wait for a server too: an
   * agent waiting for a server is not a lost one. Beats carry progress, keep the job's slot from
   * expiring during a long step, and bring a cancel request.
   */
  function beatOnceStarted(jobRunId: string, mayStart: Promise<void> | undefined, lines: () => number) {
    let timer: NodeJS.Timeout | undefined;
    const context = (mayStart ?? Promise.resolve()).then(() => {
      const ctx = Context.current();
      timer = setInterval(() => {
        ctx.heartbeat({ lines: lines() });
        deps.slots.touch(jobRunId);
      }, deps.heartbeatEveryMs ?? 1000);
      return ctx;
    });
    context.catch(() => undefined); // a refused start is observed through mayStart
    return { context, stop: () => clearInterval(timer) };
  }
}

export type StepActivities = ReturnType<typeof createStepActivities>;
