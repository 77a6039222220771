// The steps a multi-step operation (Create) has taken, to be undone in reverse if a later step
// fails. An undo step that fails is logged and the rest still run: a failed Create must leave as
// little behind as it can, and the caller reports the original error, not the clean-up's.
export interface UndoLog {
  warn(obj: object, msg: string): void;
}

export class UndoStack {
  private readonly steps: { what: string; run: () => Promise<unknown> }[] = [];

  /** Registers how to undo a step; register BEFORE the step when it can half-succeed. */
  push(what: string, run: () => Promise<unknown>): void {
    this.steps.push({ what, run });
  }

  /** Runs every registered undo, newest first. Never throws. */
  async unwind(log: UndoLog, context: object): Promise<void> {
    for (const step of this.steps.reverse()) {
      await step.run().catch((err: unknown) => log.warn({ ...context, step: step.what, err: String(err) }, 'undo step failed'));
    }
    this.steps.length = 0;
  }
}
