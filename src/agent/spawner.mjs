// The agent's spawner: a small process that starts the agent's step processes for it. Starting a
// process copies the page tables of the process that starts it, and blocks it meanwhile: ~3 ms for
// an agent, ~10 ms for the all-in-one (PGlite's memory included), against ~1 ms here. Output goes
// back to the agent as it comes; the agent's pause and resume reach the pipes. If the agent goes
// away, every process group started here is killed. Plain JavaScript: it runs as it is.
import { spawn } from 'node:child_process';

const children = new Map();
const send = (msg) => process.connected && process.send(msg);

function killGroup(pid, signal) {
  try {
    process.kill(-pid, signal);
  } catch (err) {
    if (err.code !== 'ESRCH') send({ op: 'problem', message: `could not signal process group ${pid}: ${err.message}` });
  }
}

function start({ id, command, args, cwd, env, stdin }) {
  let child;
  try {
    child = spawn(command, args, { cwd, env, detached: true, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  } catch (err) {
    return send({ op: 'error', id, message: err.message });
  }
  children.set(id, child);
  if (stdin !== undefined && child.stdin) {
    child.stdin.on('error', (err) => err.code !== 'EPIPE' && send({ op: 'stdin-error', id, message: err.message }));
    child.stdin.end(stdin);
  }
  let open = 2;
  let exit = null;
  const finish = () => {
    if (open > 0 || !exit) return;
    children.delete(id);
    send({ op: 'exit', id, ...exit });
  };
  for (const name of ['stdout', 'stderr']) {
    child[name].on('data', (data) => send({ op: 'data', id, stream: name, data }));
    child[name].once('close', () => {
      open--;
      finish();
    });
  }
  child.once('spawn', () => send({ op: 'spawned', id, pid: child.pid }));
  child.once('error', (err) => {
    children.delete(id);
    send({ op: 'error', id, message: err.message });
  });
  child.once('exit', (code, signal) => {
    // Whatever the leader did, leave no member of its group behind.
    killGroup(child.pid, 'SIGKILL');
    exit = { code, signal };
    finish();
  });
}

process.on('message', (msg) => {
  if (msg.op === 'start') return start(msg);
  const child = children.get(msg.id);
  if (!child) return;
  if (msg.op === 'kill' && child.pid !== undefined) {
    killGroup(child.pid, msg.signal);
    // A stopped process's output is read to its end, held back no more: its pipes must close
    // for its end to be told.
    child.stopped = true;
    for (const stream of [child.stdout, child.stderr]) stream.resume();
  }
  for (const stream of msg.op === 'pause' || msg.op === 'resume' ? [child.stdout, child.stderr] : []) {
    if (msg.op === 'pause' && !child.stopped) stream.pause();
    else stream.resume();
  }
});

// The agent is gone (or shutting down): nothing it started may outlive it.
function agentGone() {
  for (const child of children.values()) if (child.pid !== undefined) killGroup(child.pid, 'SIGKILL');
  process.exit(0);
}
process.on('disconnect', agentGone);
// A message that no longer reaches the agent (EPIPE: its end closed before this end heard of it)
// means the same. Unhandled, that error ended this process before the disconnect was seen, and
// left the processes it ran behind.
process.on('error', agentGone);
send({ op: 'ready' });
