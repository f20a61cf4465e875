// The environment allow-list: handlers read only what the operator listed, and children do not inherit it.
import { describe, expect, it } from 'vitest';
import { FinalFailure } from '../../src/handlers/handler.js';
import { Environment } from '../../src/runtime/environment.js';

const source = { PATH: '/usr/bin', PGPASS_SALES: 'sales-secret', CHARTD_TOKEN: 'chartd-token', EMPTY: '' };

describe('Environment', () => {
  it('reads a listed variable, and refuses one off the list or unset with a FinalFailure that says how to fix it', () => {
    const environment = new Environment(new Set(['PGPASS_SALES', 'EMPTY', 'UNSET']), source);
    expect(environment.read('PGPASS_SALES')).toBe('sales-secret');
    const refusal = (name: string): FinalFailure => {
      try {
        environment.read(name, 'password_env');
      } catch (error) {
        return error as FinalFailure;
      }
      throw new Error(`${name} was read`);
    };
    expect(refusal('CHARTD_TOKEN')).toBeInstanceOf(FinalFailure);
    expect(refusal('CHARTD_TOKEN').message).toBe('environment variable CHARTD_TOKEN (password_env) is not on the allow-list: add it to environment: in the --values file');
    expect(refusal('UNSET').message).toBe('environment variable UNSET (password_env) is not set on the server');
    expect(refusal('EMPTY').message).toBe('environment variable EMPTY (password_env) is not set on the server');
  });

  it('gives children the server environment without the listed variables', () => {
    expect(new Environment(new Set(['PGPASS_SALES']), source).forChild()).toEqual({ PATH: '/usr/bin', CHARTD_TOKEN: 'chartd-token', EMPTY: '' });
  });

  it('with chartd run, reads any variable and leaves children the whole environment', () => {
    const environment = new Environment('any', source);
    expect(environment.read('CHARTD_TOKEN')).toBe('chartd-token');
    expect(environment.forChild()).toEqual(source);
  });
});
