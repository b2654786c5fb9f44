// Package jwtauth verifies the JWTs that WebSocket clients present at the
// handshake and turns them into a daemon.Identity. It imports daemon; daemon
// never imports it.
//
// # Algorithms and keys
//
// Options.Algorithms pins the accepted "alg" values (default HS256; also
// HS384, HS512, RS256, RS384, RS512, PS256, ES256, ES384, EdDSA; "none" and
// unknown names are refused by New). HMAC algorithms verify with Options.Key
// (at least 32 bytes: an empty HMAC key would verify anything). The others
// verify with one key source: PublicKeyFile, a PEM file with one public key
// (or a certificate carrying it), or JWKSFile, a JSON Web Key Set whose keys
// the token's "kid" selects (a token without kid is accepted only when the
// set holds one key). A JWKS may not hold symmetric ("oct") or private keys;
// a JWK "alg" must be allowed and then binds the key to that algorithm. RSA
// keys under 2048 bits are refused.
//
// A RemoteJWKS (Options.Remote) is an identity provider's JWKS fetched
// over HTTPS with github.com/MicahParks/jwkset and looked up with
// github.com/MicahParks/keyfunc/v3: refreshed by a goroutine, fetched again
// on an unknown kid at most once per RemoteOptions.MissRefetch (no Verify
// waits for another's fetch), and never emptied: a failed fetch, or one
// bringing no signing key, a symmetric or a private key, keeps the last
// good set. HMAC algorithms may verify with a list of secrets
// (Options.Keys, newest first, each until its NotAfter): rotation without
// a flag day.
//
// # Confusion defence
//
// The keyfunc returns a key only of the token's algorithm family: the HMAC
// secret for HS*, an *rsa.PublicKey for RS*/PS*, an *ecdsa.PublicKey on the
// algorithm's curve for ES256/ES384, an ed25519.PublicKey for EdDSA. So an
// HS256 token "signed" with the bytes of the public key fails even when HS256
// and RS256 are both allowed.
//
// # Rotation
//
// Verify stats the key file at most once a second (by Options.Now) and
// re-reads it when its identity, mtime or size changed; Reload re-reads it at
// once (for SIGHUP). A file that fails to load keeps the old keys in use and
// goes to Options.OnReloadError, once per bad version. Replace the file
// atomically (write, then rename) and publish a new key before signing with
// it: tokens signed before the next check fail with ErrUnknownKey.
//
// # Checks
//
// golang-jwt/jwt v5 does the cryptography: its signing methods
// (jwt.SigningMethod.Verify) check every signature, with the keys chosen as
// above. The parsing in front of them is hand-written (parse.go) because it
// runs at every WebSocket handshake, where golang-jwt's, through
// encoding/json, cost more than the HS256 signature itself. It keeps
// golang-jwt's rules as this package configures its parser, and its errors:
// exactly three segments of strict base64url without padding; a header
// that is a JSON object with a string "alg" among the allowed algorithms
// (the last one if the name is repeated, names compared unescaped) and,
// for a key file, a string "kid" when there is one; "typ" and "crit" are
// not read (golang-jwt v5 reads neither); claims that are valid JSON;
// "exp" required; "nbf", and "iat" in the future, refused beyond the
// leeway; "aud" and "iss" enforced when Options.Audience/Issuer are set.
// parse_test.go holds it against golang-jwt's ParseWithClaims on a table
// and in a fuzz target. A token of an asymmetric algorithm checked against
// a RemoteJWKS goes through ParseWithClaims itself: keyfunc's lookup needs
// a *jwt.Token. The claims decoder is hand-written too (claimsdecode.go);
// it refuses an exp, nbf or iat that is not a JSON number (golang-jwt
// alone would take "exp":"9999999999").
// The length is capped before any parsing (a token of many dots once cost
// gigabytes: CVE-2025-30204) and line breaks are refused. Errors never carry
// the token.
//
// Claims used: "sub" (required, the user), "channels" (a list of patterns the
// connection may subscribe to; absent means none), "exp" (required), "aud"
// and "iss" when configured.
//
// # Concurrency
//
// A Verifier is safe for concurrent use. Verify never blocks on a reload: the
// keys sit behind an atomic pointer and one goroutine at a time re-reads the
// file while the others keep using the current keys.
//
//	v, err := jwtauth.New(jwtauth.Options{Key: key})
//	v, err := jwtauth.New(jwtauth.Options{Algorithms: []string{"RS256"}, JWKSFile: "/etc/fanoutd/jwks.json", Issuer: "https://auth.example"})
//	id, err := v.Verify(token)
package jwtauth
