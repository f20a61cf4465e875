// Reading the PostgreSQL store's URL: what each part becomes, every problem named at once, the password never shown.

import { describe, expect, it } from 'vitest';
import { postgresSettingsFrom, readPostgresUrl, StoreUrlInvalid } from '../../src/store/postgres/settings.js';

function problemsOf(text: string): string {
  try {
    readPostgresUrl(text, '--store');
  } catch (error) {
    expect(error).toBeInstanceOf(StoreUrlInvalid);
    return (error as Error).message;
  }
  throw new Error(`${text} was taken`);
}

describe('PostgreSQL store URL', () => {
  it('reads user, password, host, port, database and parameters, and shows the URL without the password', () => {
    const settings = readPostgresUrl('postgres://chartd:s%40cret%2Fpw@db.example.com:6432/chart%20d?sslmode=verify-full&application_name=replica-a');
    expect(settings).toMatchObject({
      host: 'db.example.com', port: 6432, user: 'chartd', password: 's@cret/pw', database: 'chart d',
      sslMode: 'verify-full', sslRootCert: undefined, applicationName: 'replica-a',
    });
    expect(settings.shown).toBe('postgres://chartd:***@db.example.com:6432/chart%20d?sslmode=verify-full&application_name=replica-a');
    expect(settings.shown).not.toContain('cret');
  });

  it('leaves out what libpq would take from the environment, and reads IPv6 hosts and socket directories', () => {
    expect(readPostgresUrl('postgresql:///chartd')).toMatchObject({ host: undefined, port: undefined, user: undefined, password: undefined, sslMode: 'disable', applicationName: 'chartd' });
    expect(readPostgresUrl('postgres://[::1]:5433/chartd').host).toBe('::1');
    expect(readPostgresUrl('postgres:///chartd?host=/run/postgresql').host).toBe('/run/postgresql');
    expect(readPostgresUrl('postgres://%2Frun%2Fpostgresql/chartd').host).toBe('/run/postgresql');
  });

  it('names every problem at once', () => {
    const message = problemsOf('mysql://u@h/?sslmode=prefer&password=hunter2&sslrootcert=/ca.pem');
    expect(message).toContain('--store is not a usable PostgreSQL URL');
    expect(message).toContain('the scheme is "mysql:"');
    expect(message).toContain('names no database');
    expect(message).toContain('unknown parameter "password"');
    expect(message).toContain('sslmode is "prefer"');
    expect(message).toContain('sslrootcert is given without sslmode=verify-full');
    expect(message).not.toContain('hunter2');
  });

  it('never repeats a password, even from a URL it cannot read', () => {
    for (const text of ['postgres://u:hunter2@h:99999/db', 'postgres://u:hun/ter2@h/db', 'postgres://u:hunter2@h/db#x', 'postgres://u:hunter2%zz@h/db']) {
      const message = problemsOf(text);
      expect(message, text).not.toMatch(/hunter|ter2/);
    }
    expect(problemsOf('postgres://u:hunter2%zz@h/db')).toContain('the password is not correctly percent-encoded');
  });

  it('takes --store over CHARTD_STORE, and neither means no PostgreSQL store', () => {
    const env = { CHARTD_STORE: 'postgres://env@h/from_env' };
    expect(postgresSettingsFrom('postgres://opt@h/from_option', env)?.database).toBe('from_option');
    expect(postgresSettingsFrom(undefined, env)?.database).toBe('from_env');
    expect(postgresSettingsFrom(undefined, {})).toBeUndefined();
    expect(() => postgresSettingsFrom(undefined, { CHARTD_STORE: 'postgres://h' })).toThrow(/^CHARTD_STORE is not a usable/);
  });
});
