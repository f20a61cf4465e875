// What the tab's token may do, as /access says, shared with every view so each offers only what will be allowed.

import { createContext } from 'preact';
import { useContext } from 'preact/hooks';
import type { Access } from './types';

export const AccessContext = createContext<Access | null>(null);

export function useAccess(): Access {
  const access = useContext(AccessContext);
  if (!access) throw new Error('useAccess outside the signed-in page');
  return access;
}

/** Whether the token may check in to and send events to instances of `chart`. */
export function mayWrite(access: Access, chart: string): boolean {
  return access.write.includes(chart);
}
