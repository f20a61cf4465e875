// Errors of the backup controller and zone that the HTTP layer maps to statuses (via AppError).

import { AppError } from '../errors.js';

/** A service the answer depends on cannot be reached now; `retryAfterSeconds` says when to ask again. */
export class Unavailable extends AppError {
  override readonly status = 503;
  constructor(message: string, override readonly code: string, readonly retryAfterSeconds: number) {
    super(message);
  }
}

/** The request was understood but its content cannot be processed (e.g. an order a zone cannot run). */
export class Unprocessable extends AppError {
  override readonly status = 422;
  override readonly code = 'unprocessable';
}

/** An answer retrying will not change (a 4xx other than 408 and 429): the service is up and said no. */
export class Refused extends Error {
  constructor(message: string, readonly status: number, readonly body: unknown) {
    super(message);
    this.name = 'Refused';
  }
}

/** The service answered, so it is up, but with something we cannot use; retrying soon will not help. */
export class Unusable extends Error {}
