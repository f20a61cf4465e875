// JobSource adapter for standalone use: backup jobs in a YAML file, read afresh on every check so edits apply at once.

import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';
import { Unusable } from '../errors.js';
import { parseJob, type BackupJob, type JobSource } from './job.js';

/** The file holds `jobs:`, a list of backup jobs in the job service's shape. */
export function createFileJobSource(file: string): JobSource {
  const description = `job file ${file}`;
  return {
    description,
    async get(jobId): Promise<BackupJob | undefined> {
      let text: string;
      try {
        text = await readFile(file, 'utf8');
      } catch (error) {
        // Unreadable now (e.g. being replaced) is worth retrying, like an unreachable service.
        throw new Error(`${description} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
      }
      let doc: unknown;
      try {
        doc = yaml.load(text, { schema: yaml.CORE_SCHEMA, filename: file });
      } catch (error) {
        throw new Unusable(`${description} is not valid YAML: ${(error as Error).message}`);
      }
      const jobs = (doc as { jobs?: unknown } | null)?.jobs;
      if (!Array.isArray(jobs)) throw new Unusable(`${description} must hold jobs: [ ... ], a list of backup jobs`);
      const found = jobs.find((job) => (job as { id?: unknown } | null)?.id === jobId);
      return found === undefined ? undefined : parseJob(found, jobId, description);
    },
  };
}
