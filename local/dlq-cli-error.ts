// What `npm run dlq` reports as a usage or API problem: its message only, exit code 2 (no stack trace).
export class CliError extends Error {}
