// Seed 000's backup-and-encrypt machine as its @handle_exceptions and docstrings give it, for tests to compare with.

/** The seed's @handle_exceptions table: state -> [happy path, unhappy path]. */
export const SEED_PATHS: Record<string, [string, string]> = {
  create_intermediate_directory: ['create_pg_dump_directory', 'remove_intermediate_directory'],
  create_pg_dump_directory: ['backup_schema', 'remove_pg_dump_directory'],
  backup_schema: ['backup_data', 'remove_schema_file'],
  backup_data: ['compress', 'remove_data_file'],
  compress: ['encrypt', 'remove_tarball'],
  encrypt: ['create_storage_directory', 'remove_encrypted_backup'],
  create_storage_directory: ['move_backup', 'remove_encrypted_backup'],
  move_backup: ['remove_encrypted_backup', 'remove_encrypted_backup'],
  remove_encrypted_backup: ['remove_tarball', 'remove_tarball'],
  remove_tarball: ['remove_data_file', 'remove_data_file'],
  remove_data_file: ['remove_schema_file', 'remove_schema_file'],
  remove_schema_file: ['remove_pg_dump_directory', 'remove_pg_dump_directory'],
  remove_pg_dump_directory: ['remove_intermediate_directory', 'remove_intermediate_directory'],
  remove_intermediate_directory: ['report_results', 'report_results'],
};
