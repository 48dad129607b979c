// An error the person running `npm start` can act on: main prints its message as one line and exits 1.
export class RunnerError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RunnerError';
  }
}
