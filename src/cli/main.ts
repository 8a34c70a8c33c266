import { runCli } from './cli.js';

const argv = process.argv.slice(2);

/**
 * stdout or stderr, made (Node makes them on first use) only when a command writes to it: a `coffer
 * run` that succeeds writes nothing, and its program inherits the file descriptors, not the streams.
 * A reader that stops early (`coffer audit export … | head -2`) closes the pipe; what is left has
 * nowhere to go, so stop quietly, as `cat` and `git log` do, instead of dying on an EPIPE stack trace.
 * The server keeps serving: its output is logs, not the answer to a command.
 */
let madeOutput = false;
function output(name: 'stdout' | 'stderr'): () => NodeJS.WriteStream {
  let stream: NodeJS.WriteStream | null = null;
  return () => {
    if (stream === null) {
      madeOutput = true;
      stream = process[name];
      stream.on('error', (error: NodeJS.ErrnoException) => {
        if (error.code !== 'EPIPE') throw error;
        if (argv[0] !== 'serve') process.exit(0);
      });
    }
    return stream;
  };
}
const [stdout, stderr] = [output('stdout'), output('stderr')];
// The server writes from anywhere (Node's own warnings go to stderr): guard both from the start.
if (argv[0] === 'serve') {
  stdout();
  stderr();
}

// No top-level await: the bundle bin/coffer.js runs is CommonJS (rolldown.config.js).
void runCli(argv, {
  get out() {
    return stdout();
  },
  get err() {
    return stderr();
  },
  env: process.env,
}).then((code) => {
  if (code < 0) return;
  // Nothing written, so nothing left to flush (a `coffer run` whose program has exited): exit now
  // rather than after Node tears down the heap, ~10 ms of a local `run` (BENCHMARKS.md). Otherwise
  // the output drains first.
  if (!madeOutput) process.exit(code);
  process.exitCode = code;
});
