import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import type { Request, Response } from 'express';
import { DomainError, ErrorBody, ErrorCode, errorBody } from './domain-error';

// The single place where failures become HTTP. Anything that is not a DomainError or a
// framework HTTP error is a bug: a bare 500 with the request id, logged with its stack.
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<Response>();
    const request = host.switchToHttp().getRequest<Request & { id?: unknown }>();
    if (response.headersSent) return;
    const domain = toDomainError(exception);
    if (domain) {
      const body = errorBody(domain);
      if ((domain as { replayed?: boolean }).replayed)
        response.setHeader('Idempotent-Replayed', 'true');
      if (domain.retryAfterSeconds !== undefined) {
        response.setHeader('Retry-After', String(Math.max(1, Math.ceil(domain.retryAfterSeconds))));
      }
      response.status(body.statusCode).json(body);
      return;
    }
    const requestId =
      typeof request.id === 'string' || typeof request.id === 'number'
        ? String(request.id)
        : undefined;
    this.logger.error(
      { err: exception, requestId },
      exception instanceof Error ? exception.stack : String(exception),
    );
    const body: ErrorBody = {
      statusCode: 500,
      code: 'INTERNAL_ERROR',
      message: 'Internal error',
      requestId,
    };
    response.status(500).json(body);
  }
}

interface BodyParserError {
  type?: string;
  status?: number;
  expose?: boolean;
}

function toDomainError(exception: unknown): DomainError | undefined {
  if (exception instanceof DomainError) return exception;
  if (exception instanceof ThrottlerException) {
    return new DomainError('RATE_LIMITED', 'Too many requests; try again shortly', {
      retryAfterSeconds: 60,
    });
  }
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const code = codeForStatus(status);
    if (code === undefined) return undefined;
    const message =
      code === 'VALIDATION_FAILED' ? 'The request is not valid' : messageOf(exception);
    return new DomainError(code, message, { details: validationDetails(exception) });
  }
  // body-parser errors (malformed JSON, too large, bad charset, corrupt gzip) arrive as plain
  // http-errors: a `type`, or at least `expose` (set on every 4xx they create)
  const parserError = exception as BodyParserError;
  const isParserError = typeof parserError?.type === 'string' || parserError?.expose === true;
  if (isParserError && typeof parserError.status === 'number') {
    if (parserError.status === 413) {
      return new DomainError('PAYLOAD_TOO_LARGE', 'The request body is too large');
    }
    if (parserError.status >= 400 && parserError.status < 500) {
      return new DomainError('VALIDATION_FAILED', 'The request body could not be read');
    }
  }
  return undefined;
}

function codeForStatus(status: number): ErrorCode | undefined {
  switch (status) {
    case 400: // BAD_REQUEST
      return 'VALIDATION_FAILED';
    case 401: // UNAUTHORIZED
      return 'UNAUTHENTICATED';
    case 403: // FORBIDDEN
      return 'FORBIDDEN';
    case 404: // NOT_FOUND
      return 'NOT_FOUND';
    case 413: // PAYLOAD_TOO_LARGE
      return 'PAYLOAD_TOO_LARGE';
    case 429: // TOO_MANY_REQUESTS
      return 'RATE_LIMITED';
    case 503: // SERVICE_UNAVAILABLE
      return 'SERVICE_UNAVAILABLE';
    default:
      return status >= 400 && status < 500 ? 'VALIDATION_FAILED' : undefined;
  }
}

function messageOf(exception: HttpException): string {
  switch (exception.getStatus()) {
    case 401:
      return 'Authentication is required';
    case 403:
      return 'You may not do this';
    case 404:
      return 'No such route';
    default:
      return exception.message;
  }
}

function validationDetails(exception: HttpException): unknown {
  if (exception.getStatus() !== 400) return undefined;
  const response = exception.getResponse();
  if (typeof response === 'object' && response !== null && 'message' in response) {
    const message: unknown = response.message;
    return Array.isArray(message) ? message.slice(0, 20) : undefined;
  }
  return undefined;
}
