// Typed errors shared by every layer; the transports map `status` to an answer.

export class AppError extends Error {
  readonly status: number = 500;
  readonly code: string = 'internal';
  /** Safe to show the caller; a server fault's message stays in the log. */
  readonly expose: boolean = true;

  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequest extends AppError {
  override readonly status = 400;
  constructor(message: string, override readonly code: string = 'bad_request') {
    super(message);
  }
}

export class NotFound extends AppError {
  override readonly status = 404;
  override readonly code = 'not_found';
}

/** No valid bearer token: nothing was read or changed. `challenge` is the WWW-Authenticate header's value. */
export class Unauthorized extends AppError {
  override readonly status = 401;
  override readonly code = 'unauthorized';
  constructor(message: string, readonly challenge = 'Bearer realm="chartd"') {
    super(message);
  }
}

/** A valid token without the scope a request needs, or a route closed to everyone (a service-owned chart); nothing changed. */
export class Forbidden extends AppError {
  override readonly status = 403;
  constructor(message: string, override readonly code: string = 'forbidden') {
    super(message);
  }
}

export class Conflict extends AppError {
  override readonly status = 409;
  constructor(message: string, override readonly code: string = 'conflict') {
    super(message);
  }
}

/** A chart has as many instances as --max-instances allows; creating another must wait for the operator to raise it. */
export class InstanceQuotaReached extends AppError {
  override readonly status = 409;
  override readonly code = 'instance_quota';
}

export class PayloadTooLarge extends AppError {
  override readonly status = 413;
  override readonly code = 'payload_too_large';
}

export class UnsupportedMediaType extends AppError {
  override readonly status = 415;
  override readonly code = 'unsupported_media_type';
}

/** The client broke off its request (hung up, reset, or sent a body that cannot be read) before its end; no answer reaches it. */
export class ClientGone extends AppError {
  override readonly status = 400;
  override readonly code = 'client_gone';
}

/** The chart's context schema refused an instance's inputs. */
export class ContextInvalid extends AppError {
  override readonly status = 400;
  override readonly code = 'context_invalid';
  constructor(message: string, readonly problems: string[]) {
    super(message);
  }
}

/** A chart's operator-owned settings are missing or wrong: the operator, not the caller, must bind them. */
export class NotConfigured extends AppError {
  override readonly status = 409;
  override readonly code = 'not_configured';
}

/** The server is stopping; the caller should ask again shortly (answered with Retry-After). */
export class ShuttingDown extends AppError {
  override readonly status = 503;
  override readonly code = 'shutting_down';
  readonly retryAfterSeconds = 2;
}

/** JSON nested deeper than chartd takes; refused before anything walks it recursively. */
export class TooDeep extends AppError {
  override readonly status = 400;
  override readonly code = 'too_deep';
}

/** A chart, a reload or an operator's file refused, with every problem found, each as `chartd validate` prints it. */
export class ProblemsFound extends AppError {
  constructor(
    message: string,
    readonly problems: readonly string[],
    override readonly code: string = 'chart_invalid',
    override readonly status: number = 400,
  ) {
    super(message);
  }
}
