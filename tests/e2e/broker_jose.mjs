// broker_jose.mjs — npm `jose` (v6, ESM) as the independent verifier of the broker's tokens
// (D4: "any standard JOSE library must verify our tokens"). Used by tests/e2e/broker_test.sh.
//
//   node broker_jose.mjs jwt TOKEN_FILE JWKS_FILE ISS AUD TYP
//       jwtVerify (ES256 only, kid selects the key, iss/aud/typ checked, exp required).
//   node broker_jose.mjs jws TOKEN_FILE JWKS_FILE TYP
//       compactVerify (cap tokens have no iss/aud/exp: D4 claims) + header typ check; the
//       payload must be a JSON object.
//   node broker_jose.mjs filter JWKS_FILE PURPOSE
//       prints the signer's /v1/keys JWKS reduced to one purpose (session|oidc|cap), with the
//       signer-private members removed.
// Prints "ok <payload JSON>" or "error <code>"; exit 0 / 1.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '../../package.json'));
const jose = await import(require.resolve('jose'));

const [mode, ...args] = process.argv.slice(2);
const read = (f) => readFileSync(f, 'utf8').trim();

try {
  if (mode === 'jwt') {
    const [tokenFile, jwksFile, iss, aud, typ] = args;
    const { payload } = await jose.jwtVerify(read(tokenFile), jose.createLocalJWKSet(JSON.parse(read(jwksFile))), {
      issuer: iss, audience: aud, typ, algorithms: ['ES256'], requiredClaims: ['exp'],
    });
    console.log(`ok ${JSON.stringify(payload)}`);
  } else if (mode === 'jws') {
    const [tokenFile, jwksFile, typ] = args;
    const { payload, protectedHeader } = await jose.compactVerify(read(tokenFile),
      jose.createLocalJWKSet(JSON.parse(read(jwksFile))), { algorithms: ['ES256'] });
    if (protectedHeader.typ !== typ) throw Object.assign(new Error('typ'), { code: 'ERR_TYP' });
    const claims = JSON.parse(new TextDecoder().decode(payload));
    if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) throw Object.assign(new Error('payload'), { code: 'ERR_PAYLOAD' });
    console.log(`ok ${JSON.stringify(claims)}`);
  } else if (mode === 'filter') {
    const [jwksFile, purpose] = args;
    const keys = JSON.parse(read(jwksFile)).keys.filter((k) => k.ak_key === purpose)
      .map(({ ak_key, ak_status, ...k }) => k);
    console.log(JSON.stringify({ keys }));
  } else {
    console.error('usage: broker_jose.mjs jwt TOKEN JWKS ISS AUD TYP | jws TOKEN JWKS TYP | filter JWKS PURPOSE');
    process.exit(2);
  }
} catch (e) {
  console.log(`error ${e.code || e.message}`);
  process.exit(1);
}
