// Crash-test seam: SIGKILLs this process at a named point when CHARTD_FAILPOINT names it (tests only; unset in production).

/** Points: check:after-record, dispatch:after-send, inbox:after-ack, inbox:after-backup, inbox:after-event. */
export function failpoint(name: string): void {
  if (process.env['CHARTD_FAILPOINT'] === name) process.kill(process.pid, 'SIGKILL');
}
