import { verifyToken, VerifiedUser } from '../auth/bearer-token';
import type { AppConfig } from '../config/app-config';

export type SocketUser = VerifiedUser;

/** The same checks as HTTP: pinned algorithm, signature, exp, nbf, iss/aud when configured. */
export function verifySocketToken(token: unknown, config: AppConfig): SocketUser | undefined {
  return verifyToken(token, config);
}
