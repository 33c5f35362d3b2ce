import { timingSafeEqual } from 'node:crypto';
import { ForbiddenException, UnauthorizedException } from '@nestjs/common';

/**
 * The admin API's bearer check, shared by every service's operator port:
 * off (403) without BATCHGATE_ADMIN_TOKEN; otherwise only the documented
 * scheme — a bare token (no "Bearer ") is refused like a wrong one. The
 * scheme is case-insensitive (RFC 9110 §11.1); the token is compared in
 * constant time.
 */
export function authorizeAdmin(token: string | undefined, header: string | undefined): void {
  if (!token) throw new ForbiddenException({ error: 'admin_disabled', message: 'set BATCHGATE_ADMIN_TOKEN to enable the admin API' });
  const bearer = /^Bearer +(\S+) *$/i.exec(header ?? '');
  const given = Buffer.from(bearer?.[1] ?? '');
  const expected = Buffer.from(token);
  if (!bearer || given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new UnauthorizedException({ error: 'unauthorized', message: 'a valid "Authorization: Bearer <token>" header is required' });
  }
}
