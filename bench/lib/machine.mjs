// What the figures were measured on: CPUs, Node, the file system the data directories live on, and the build.
import { execFileSync } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import { cpus } from 'node:os';

/** The file system type (ext4, tmpfs, …) of the longest mount point containing `dir`, from /proc/mounts. */
function fileSystemOf(dir) {
  const path = realpathSync(dir);
  let best = { point: '', type: 'unknown' };
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
    const [, point, type] = line.split(' ');
    if (!point || !type) continue;
    const inside = path === point || path.startsWith(point.endsWith('/') ? point : `${point}/`);
    if (inside && point.length >= best.point.length) best = { point, type };
  }
  return best.type;
}

/** The commit the source is at, marked when the working tree has changes; "unknown" outside a git checkout. */
function sourceRevision() {
  const git = (...args) => execFileSync('git', args, { cwd: new URL('../..', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  try {
    const commit = git('rev-parse', '--short', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') ? `${commit} with uncommitted changes` : commit;
  } catch {
    return 'unknown (not a git checkout)';
  }
}

export function describeMachine(dir) {
  const list = cpus();
  return {
    cpus: `${list.length} × ${list[0]?.model.trim() ?? 'unknown CPU'}`,
    node: process.version,
    fileSystem: `${fileSystemOf(dir)} (${dir})`,
    source: sourceRevision(),
  };
}
