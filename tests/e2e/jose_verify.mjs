// jose_verify.mjs — the independent side of the JOSE interop test (npm `jose`, v6, ESM).
//
//   node jose_verify.mjs verify TOKEN_FILE JWKS_FILE ISS AUD TYP
//       jwtVerify with the JWKS (kid selection), ES256 only, iss/aud/typ checked, exp required.
//       Also checks that the kid equals the RFC 7638 thumbprint of the key it selects
//       (jwstool issues thumbprint kids). Prints "ok" or "error <code>"; exit 0/1.
//   node jose_verify.mjs sign ISS AUD TYP
//       Signs an ES256 JWT with a fresh key; prints the token, then the JWKS.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
const jose = await import(require.resolve('jose'));

const [mode, ...args] = process.argv.slice(2);

if (mode === 'verify') {
  const [tokenFile, jwksFile, iss, aud, typ] = args;
  const token = readFileSync(tokenFile, 'utf8').trim();
  const jwks = JSON.parse(readFileSync(jwksFile, 'utf8'));
  try {
    const { payload, protectedHeader } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
      issuer: iss,
      audience: aud,
      typ,
      algorithms: ['ES256'],
      requiredClaims: ['exp'],
    });
    const key = jwks.keys.find((k) => k.kid === protectedHeader.kid);
    const tp = await jose.calculateJwkThumbprint(key, 'sha256');
    if (tp !== protectedHeader.kid) throw Object.assign(new Error('kid'), { code: 'KID_NOT_THUMBPRINT' });
    console.log(`ok ${JSON.stringify(payload)}`);
  } catch (e) {
    console.log(`error ${e.code || e.message}`);
    process.exit(1);
  }
} else if (mode === 'sign') {
  const [iss, aud, typ] = args;
  const { publicKey, privateKey } = await jose.generateKeyPair('ES256');
  const jwk = await jose.exportJWK(publicKey);
  jwk.kid = await jose.calculateJwkThumbprint(jwk, 'sha256');
  jwk.use = 'sig';
  jwk.alg = 'ES256';
  const token = await new jose.SignJWT({ sub: 'node' })
    .setProtectedHeader({ alg: 'ES256', typ, kid: jwk.kid })
    .setIssuer(iss)
    .setAudience([aud, 'other'])
    .setIssuedAt()
    .setNotBefore('0s')
    .setExpirationTime('5m')
    .sign(privateKey);
  console.log(token);
  console.log(JSON.stringify({ keys: [jwk] }));
} else {
  console.error('usage: jose_verify.mjs verify TOKEN_FILE JWKS_FILE ISS AUD TYP | sign ISS AUD TYP');
  process.exit(2);
}
