import { runCli } from './cli.js';

const argv = process.argv.slice(2);

/**
 * A reader that stops early (`coffer audit export … | head -2`) closes the pipe; what is left has
 * nowhere to go, so stop quietly, as `cat` and `git log` do, instead of dying on an EPIPE stack trace.
 * The server keeps serving: its output is logs, not the answer to a command.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    if (argv[0] !== 'serve') process.exit(0);
  });
}

const code = await runCli(argv, {
  out: process.stdout,
  err: process.stderr,
  env: process.env,
});
if (code >= 0) process.exitCode = code;
