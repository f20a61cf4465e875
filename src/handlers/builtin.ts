// The handlers chartd ships with; main.ts registers them, and tests build registries from them.

import type { Handler } from './handler.js';
import { makeDirHandler, moveHandler, removeDirHandler, removeFileHandler } from './fs.js';
import { dumpDataHandler, dumpSchemaHandler } from './pg.js';
import { createArchiveHandler } from './tar.js';
import { encryptHandler } from './gpg.js';

export function builtinHandlers(): Handler[] {
  return [
    makeDirHandler,
    removeDirHandler,
    removeFileHandler,
    moveHandler,
    dumpSchemaHandler,
    dumpDataHandler,
    createArchiveHandler,
    encryptHandler,
  ];
}
