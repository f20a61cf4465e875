// The step handlers of charts/backup-request.yaml; registered always, they run the controller's code when one is configured.

import { defineHandler } from '../../handlers/args.js';
import { FinalFailure, type Handler } from '../../handlers/handler.js';
import type { BackupController } from './controller.js';

export const NOT_CONFIGURED = 'backup controller not configured: start chartd serve with --backup-config FILE';

const PARAMS = {
  type: 'object',
  properties: { request: { type: 'string', minLength: 1, description: 'The backup request id ({{instance.id}}).' } },
  required: ['request'],
  additionalProperties: false,
} as const;

/** `controller` is asked at run time, so the chart loads (and says clearly why it cannot run) without one. */
export function backupHandlers(controller: () => BackupController | undefined): Handler[] {
  const configured = (): BackupController => {
    const found = controller();
    if (!found) throw new FinalFailure(NOT_CONFIGURED);
    return found;
  };
  return [
    defineHandler<{ request: string }>({
      name: 'backup.checkAllowed',
      description: 'Ask the job service whether a backup request is allowed: an approved job, in force on the data date.',
      params: PARAMS,
      run: (args, ctx) => configured().checkAllowed(args.request, ctx.signal),
    }),
    defineHandler<{ request: string }>({
      name: 'backup.dispatch',
      description: "Send an allowed backup request, with its job's data, to the job's backup zone (idempotent by request id).",
      params: PARAMS,
      run: (args, ctx) => configured().dispatch(args.request, ctx.signal),
    }),
  ];
}
