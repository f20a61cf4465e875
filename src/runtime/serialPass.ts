// A pass of background work run one at a time: a kick during one runs another right after it.

export class SerialPass {
  private passing: Promise<void> | undefined;
  private again = false;

  /** `failed` is told when a pass throws; the next kick runs a pass again. */
  constructor(private readonly pass: () => Promise<void>, private readonly failed: (error: Error) => void) {}

  kick(): void {
    if (this.passing) {
      this.again = true;
      return;
    }
    this.passing = this.pass().catch(this.failed).finally(() => {
      this.passing = undefined;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  /** The pass under way, if any. */
  current(): Promise<void> | undefined {
    return this.passing;
  }
}
