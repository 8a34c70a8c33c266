import { readFileSync } from 'node:fs';

/** Where a command reads a secret typed or piped in: the process's stdin unless a test gives another. */
export interface SecretInput {
  /** True when a person is at the terminal (then we prompt, without echo). */
  readonly isTty: boolean;
  /** Everything on stdin (a pipe or a file). */
  readAll(): string;
  /** One line typed at the terminal, not echoed; `prompt` goes to stderr. */
  readHidden(prompt: string): Promise<string>;
}

export const processInput: SecretInput = {
  // Asked when needed: looking at process.stdin makes the stream, which most commands never read.
  get isTty() {
    return process.stdin.isTTY === true;
  },
  readAll: () => readFileSync(0, 'utf8'),
  readHidden,
};

/** Drops one trailing line break: `echo VALUE | coffer …` means VALUE. */
export function withoutFinalNewline(text: string): string {
  return text.replace(/\r?\n$/, '');
}

/**
 * Reads one line from the terminal with echo off (raw mode), as `vault login` and `ssh` do: the
 * value never appears on screen or in scrollback. Ctrl-C aborts, Ctrl-D ends the input.
 */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  return new Promise((resolve, reject) => {
    let value = '';
    const finish = (error?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish();
        if (ch === '\u0003') return finish(new Error('cancelled.'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.setRawMode(true);
    stdin.resume();
    stdin.on('data', onData);
  });
}
