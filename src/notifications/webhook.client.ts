import { createHmac } from 'node:crypto';

export const DELIVERY_TIMEOUT_MS = 5000;

export function signature(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}

export class DeliveryError extends Error {}

/**
 * POSTs one message. The body is the payload text exactly as written; X-Signature is the
 * HMAC-SHA256 of those bytes with the shared secret, so the receiver can check it came from us
 * unaltered; X-Notification-Id lets it drop a repeat (delivery is at least once).
 */
export async function postNotification(
  url: string,
  secret: string | undefined,
  message: { id: string; kind: string; payload: string },
  timeoutMs = DELIVERY_TIMEOUT_MS,
): Promise<void> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json; charset=utf-8',
    'X-Notification-Id': message.id,
    'X-Notification-Kind': message.kind,
  };
  if (secret !== undefined) headers['X-Signature'] = signature(message.payload, secret);
  let response: Response;
  try {
    response = await fetch(url, {
      method: 'POST',
      headers,
      body: message.payload,
      redirect: 'error',
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: unknown } }).cause?.code;
    throw new DeliveryError(
      error instanceof Error && error.name === 'TimeoutError'
        ? `timed out after ${timeoutMs} ms`
        : `request failed${typeof cause === 'string' ? `: ${cause}` : ''}`,
    );
  }
  // drain the body so the connection can be reused; its content is not ours to log
  await response.arrayBuffer().catch(() => undefined);
  if (response.status < 200 || response.status >= 300) {
    throw new DeliveryError(`webhook answered ${response.status}`);
  }
}
