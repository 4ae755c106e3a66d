// Step processes started by the agent's spawner (src/agent/spawner.mjs), a small child process, so
// that starting one never blocks the agent's event loop on copying its page tables. Same contract
// as runProcess: its own process group, killed whole on cancel or timeout, output read line by
// line with pause and resume reaching the pipes.
import type { ChildProcess } from 'node:child_process';
import { fork } from 'node:child_process';
import { PassThrough } from 'node:stream';
import { createInterface } from 'node:readline';
import { SPAWNER_PATH } from '../paths';
import type { ProcessEnd, ProcessSpec, RunningProcess } from './process-runner';
import { runProcess } from './process-runner';

export interface ProcessLauncher {
  run(spec: ProcessSpec, onLine: (stream: 'stdout' | 'stderr', text: string) => void): RunningProcess;
  close(): Promise<void>;
}

/** Starts processes from the calling process itself (tests, and anything without a spawner). */
export const directLauncher: ProcessLauncher = { run: runProcess, close: async () => undefined };

type SpawnerMessage =
  | { op: 'ready' }
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'data'; id: number; stream: 'stdout' | 'stderr'; data: Uint8Array }
  | { op: 'exit'; id: number; code: number | null; signal: string | null }
  | { op: 'error' | 'stdin-error'; id: number; message: string }
  | { op: 'problem'; message: string };

interface Tracked {
  data(stream: 'stdout' | 'stderr', chunk: Uint8Array): void;
  exited(code: number | null, signal: string | null): void;
  failed(message: string): void;
  stdinFailed(message: string): void;
}

export function createSpawnerLauncher(onProblem: (message: string) => void = () => undefined): ProcessLauncher {
  let spawner: ChildProcess | null = null;
  let closing = false;
  let nextId = 1;
  const running = new Map<number, Tracked>();

  /** The spawner, started on first use and again after it died (its processes died with it). */
  function current(): ChildProcess {
    if (spawner && spawner.connected) return spawner;
    // Plain node, small heap: it inherits none of this process's flags (loaders, profilers).
    const child = fork(SPAWNER_PATH, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--max-semi-space-size=1'] });
    child.on('message', (msg: SpawnerMessage) => {
      if (msg.op === 'ready' || msg.op === 'spawned') return;
      if (msg.op === 'problem') return onProblem(msg.message);
      const tracked = running.get(msg.id);
      if (!tracked) return;
      if (msg.op === 'data') tracked.data(msg.stream, msg.data);
      else if (msg.op === 'exit') tracked.exited(msg.code, msg.signal);
      else if (msg.op === 'error') tracked.failed(msg.message);
      else tracked.stdinFailed(msg.message);
    });
    child.once('exit', (code, signal) => {
      if (spawner === child) spawner = null;
      if (!closing) onProblem(`the agent's spawner exited (${signal ?? code}); step processes it held were killed`);
      for (const tracked of running.values()) tracked.failed('the agent\'s spawner exited');
    });
    spawner = child;
    return child;
  }

  return {
    run(spec, onLine) {
      const id = nextId++;
      const send = (msg: Record<string, unknown>) => {
        // Only a start may bring up a new spawner: the processes of one that died died with it.
        const target = msg.op === 'start' ? current() : spawner;
        if (target?.connected) target.send({ ...msg, id });
      };
      const streams = { stdout: new PassThrough(), stderr: new PassThrough() };
      const readers = (['stdout', 'stderr'] as const).map((name) => {
        const rl = createInterface({ input: streams[name], crlfDelay: Infinity });
        rl.on('line', (text) => onLine(name, text));
        return rl;
      });
      const pipesClosed = readers.map((rl) => new Promise<void>((resolve) => rl.once('close', resolve)));
      let stopReason: 'timeout' | 'cancelled' | null = null;
      let killTimer: NodeJS.Timeout | undefined;
      let ended = false;
      const stop = (why: 'timeout' | 'cancelled') => {
        if (stopReason) return;
        stopReason = why;
        // Held back no more (see pauseOutput), even once the spawner has told the exit: what it
        // sent before still waits here for the log.
        readers.forEach((rl) => rl.resume());
        if (ended) return;
        send({ op: 'kill', signal: 'SIGTERM' });
        killTimer = setTimeout(() => send({ op: 'kill', signal: 'SIGKILL' }), spec.killGraceMs);
      };
      const timeoutTimer = spec.timeoutMs ? setTimeout(() => stop('timeout'), spec.timeoutMs) : undefined;

      const done = new Promise<ProcessEnd>((resolve) => {
        const end = (result: () => ProcessEnd) => {
          if (ended) return;
          ended = true;
          running.delete(id);
          streams.stdout.end();
          streams.stderr.end();
          void Promise.all(pipesClosed).then(() => {
            clearTimeout(timeoutTimer);
            clearTimeout(killTimer);
            resolve(result());
          });
        };
        running.set(id, {
          data: (stream, chunk) => streams[stream].write(chunk),
          exited: (code, signal) =>
            end(() => (stopReason ? { kind: stopReason } : code !== null ? { kind: 'exited', exitCode: code } : { kind: 'signalled', signal: signal ?? 'unknown' })),
          failed: (message) => end(() => ({ kind: 'spawn_failed', message })),
          stdinFailed: (message) => onLine('stderr', `arcentra: could not write the plugin's input: ${message}`),
        });
      });
      send({ op: 'start', command: spec.command, args: spec.args, cwd: spec.cwd, env: spec.env, stdin: spec.stdin });
      return {
        done,
        cancel: () => stop('cancelled'),
        // Once stopped, output is read to its end whatever the log's backlog: the pipes must close
        // for the end to be told (the log drops what it cannot hold, and says so).
        pauseOutput: () => {
          if (stopReason) return;
          readers.forEach((rl) => rl.pause());
          if (!ended) send({ op: 'pause' });
        },
        resumeOutput: () => {
          readers.forEach((rl) => rl.resume());
          if (!ended) send({ op: 'resume' });
        },
        get stopped() {
          return stopReason !== null;
        },
      };
    },

    async close() {
      closing = true;
      const child = spawner;
      if (!child || child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.disconnect(); // the spawner kills what it still runs, then exits
      await exited;
    },
  };
}
