// Package jwtauth verifies the JWTs that WebSocket clients present at the
// handshake and turns them into a daemon.Identity. It imports daemon; daemon
// never imports it.
//
// Tokens are HS256, verified with golang-jwt/jwt v5 with the algorithm
// pinned, "exp" required, and the length capped before any parsing (a token
// of many dots once cost gigabytes: CVE-2025-30204). Keys shorter than 32
// bytes are refused at construction: an empty HMAC key would verify anything.
//
// Claims used: "sub" (required, the user), "channels" (a list of patterns the
// connection may subscribe to; absent means none), "exp" (required).
//
//	v, err := jwtauth.New(jwtauth.Options{Key: key})
//	id, err := v.Verify(token)
package jwtauth
