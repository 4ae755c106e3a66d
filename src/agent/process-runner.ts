// Runs one step's process in its own process group; kills the whole group on cancel or timeout.
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface ProcessSpec {
  command: string;
  args: string[];
  cwd: string;
  env: Record<string, string>;
  timeoutMs?: number;
  killGraceMs: number;
  /** Written to the process's standard input, which is then closed (plugins read their args there). */
  stdin?: string;
}

export type ProcessEnd =
  | { kind: 'exited'; exitCode: number }
  | { kind: 'signalled'; signal: string }
  | { kind: 'timeout' }
  | { kind: 'cancelled' }
  | { kind: 'spawn_failed'; message: string };

export interface RunningProcess {
  /** Resolves once the process and every pipe of its output have closed. */
  done: Promise<ProcessEnd>;
  cancel(): void;
  /** Stops reading the output for now: once the pipes fill, the process blocks on its writes. */
  pauseOutput(): void;
  resumeOutput(): void;
  /** Stopped (cancelled or timed out): its output is read to its end, held back no more. */
  readonly stopped: boolean;
}

export function runProcess(spec: ProcessSpec, onLine: (stream: 'stdout' | 'stderr', text: string) => void): RunningProcess {
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env,
    detached: true, // its own process group, so the whole tree can be killed
    stdio: [spec.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
  });
  if (spec.stdin !== undefined && child.stdin) {
    // A plugin that never reads its input must not fail the step with EPIPE.
    child.stdin.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') onLine('stderr', `arcentra: could not write the plugin's input: ${err.message}`);
    });
    child.stdin.end(spec.stdin);
  }
  let stopReason: 'timeout' | 'cancelled' | null = null;
  let killTimer: NodeJS.Timeout | undefined;

  const killGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err; // ESRCH: the group is already gone
    }
  };
  const stop = (why: 'timeout' | 'cancelled') => {
    if (stopReason) return;
    stopReason = why;
    killGroup('SIGTERM');
    readers.forEach((rl) => rl.resume()); // held back no more (see pauseOutput)
    killTimer = setTimeout(() => killGroup('SIGKILL'), spec.killGraceMs);
  };
  const timeoutTimer = spec.timeoutMs ? setTimeout(() => stop('timeout'), spec.timeoutMs) : undefined;

  const readers = [child.stdout!, child.stderr!].map((stream, i) => {
    const name = i === 0 ? 'stdout' : 'stderr';
    const rl = createInterface({ input: stream, crlfDelay: Infinity });
    rl.on('line', (text) => onLine(name, text));
    return rl;
  });
  const pipesClosed = readers.map((rl) => new Promise<void>((resolve) => rl.once('close', resolve)));

  const done = new Promise<ProcessEnd>((resolve) => {
    child.once('error', (err) => resolve({ kind: 'spawn_failed', message: err.message }));
    child.once('exit', (code, signal) => {
      // Whatever the leader did, leave no member of its group behind.
      killGroup('SIGKILL');
      void Promise.all(pipesClosed).then(() => {
        clearTimeout(timeoutTimer);
        clearTimeout(killTimer);
        if (stopReason) resolve({ kind: stopReason });
        else if (code !== null) resolve({ kind: 'exited', exitCode: code });
        else resolve({ kind: 'signalled', signal: signal ?? 'unknown' });
      });
    });
  });
  return {
    done,
    cancel: () => stop('cancelled'),
    // Once stopped, output is read to its end whatever the log's backlog: the pipes must close for
    // the end to be told (the log drops what it cannot hold, and says so).
    pauseOutput: () => {
      if (!stopReason) readers.forEach((rl) => rl.pause());
    },
    get stopped() {
      return stopReason !== null;
    },
    resumeOutput: () => readers.forEach((rl) => rl.resume()),
  };
}
