// The one error hierarchy of the control plane; the API maps each to its HTTP status and envelope.
export interface ErrorDetail {
  path?: string;
  message: string;
  line?: number;
  column?: number;
}

export class AppError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInput extends AppError {
  constructor(message: string, details?: ErrorDetail[] | Record<string, unknown>) {
    super(400, message, details);
  }
}
export class Unauthorized extends AppError {
  constructor(message = 'missing or invalid bearer token') {
    super(401, message);
  }
}
export class Forbidden extends AppError {
  constructor(message: string) {
    super(403, message);
  }
}
export class NotFound extends AppError {
  constructor(message: string) {
    super(404, message);
  }
}
export class Conflict extends AppError {
  constructor(message: string, details?: Record<string, unknown>) {
    super(409, message, details);
  }
}
export class PayloadTooLarge extends AppError {
  constructor(message = 'request body exceeds 1 MiB') {
    super(413, message);
  }
}
