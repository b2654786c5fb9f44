// HS256 tokens for tests and development: what the application's backend
// hands its browsers so they can subscribe. Production backends mint the
// same way with their own secret (the daemon's auth.hmac_secret).

import { createHmac } from 'node:crypto';

const b64url = (s) => Buffer.from(s).toString('base64url');

/**
 * Mints an HS256 JWT for fanoutd: sub, channels (patterns the connection may
 * subscribe to), iat, exp = now + ttlSeconds, and info (shown in presence)
 * when given. extra claims (aud, iss, …) are merged in.
 */
export function mintToken(secret, { sub, channels = [], ttlSeconds = 600, info, now = Date.now(), ...extra } = {}) {
  if (!secret || secret.length < 32) throw new TypeError('mintToken: secret must be at least 32 bytes (the daemon refuses shorter ones)');
  if (typeof sub !== 'string' || sub === '') throw new TypeError('mintToken: sub is required');
  const iat = Math.floor(now / 1000);
  const claims = { sub, channels, iat, exp: iat + ttlSeconds, ...extra };
  if (info !== undefined) claims.info = info;
  const signing = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
  return `${signing}.${createHmac('sha256', secret).update(signing).digest('base64url')}`;
}
