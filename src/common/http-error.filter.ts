import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { ThrottlerException } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { DomainError, ErrorBody, ErrorCode, errorBody } from './domain-error';

// The single place where failures become HTTP. Anything that is not a DomainError or a
// framework HTTP error is a bug: a bare 500 with the request id, logged with its stack.
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw exception;
    const response = host.switchToHttp().getResponse<FastifyReply>();
    const request = host.switchToHttp().getRequest<FastifyRequest>();
    if (response.sent) return;
    const domain = toDomainError(exception);
    if (domain) {
      const body = errorBody(domain);
      if ((domain as { replayed?: boolean }).replayed)
        response.header('Idempotent-Replayed', 'true');
      if (domain.retryAfterSeconds !== undefined) {
        response.header('Retry-After', String(Math.max(1, Math.ceil(domain.retryAfterSeconds))));
      }
      void response.status(body.statusCode).send(body);
      return;
    }
    const requestId = requestIdOf(request);
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
    void response.status(500).send(body);
  }
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
    case 413:
      return 'The request body is too large';
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

/** The id sent back as X-Request-Id and logged by pino. */
function requestIdOf(request: FastifyRequest | undefined): string | undefined {
  const id: unknown = request?.id;
  return typeof id === 'string' ? id : undefined;
}
