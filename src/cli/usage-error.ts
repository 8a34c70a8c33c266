/** A message for the person at the terminal: exit code 2, one line, then the command's own usage. */
export class UsageError extends Error {}
