// The server's errors: an HTTP status and the OpenAI error body `{"error": {"message", "type", "param", "code"}}`.
// Every request problem is thrown as an ApiError and answered with its status; nothing a client sends crashes the
// server (an unexpected error is a 500 with a generic message, logged without the request).
import { SafesailError } from "../errors.ts";

/** OpenAI's values: 4xx requests are "invalid_request_error" (401 included), 429 "requests", 5xx "server_error". */
export type ApiErrorType = "invalid_request_error" | "requests" | "server_error";

export interface ApiErrorBody {
  error: { message: string; type: ApiErrorType; param: string | null; code: string | null };
}

export class ApiError extends SafesailError {
  readonly status: number;
  readonly type: ApiErrorType;
  readonly param: string | null;
  readonly code: string | null;
  /** Extra response headers (Retry-After, Allow). */
  readonly headers: Record<string, string>;

  constructor(status: number, message: string, opts: { type?: ApiErrorType; param?: string | null; code?: string | null; headers?: Record<string, string> } = {}) {
    super(message, opts.param ? { field: opts.param } : {});
    this.status = status;
    this.type = opts.type ?? (status === 429 ? "requests" : status >= 500 ? "server_error" : "invalid_request_error");
    this.param = opts.param ?? null;
    this.code = opts.code ?? null;
    this.headers = opts.headers ?? {};
  }

  body(): ApiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** A 400 naming the request field at fault. */
export const badRequest = (param: string | null, message: string, code: string | null = "invalid_value"): ApiError => new ApiError(400, message, { param, code });
