// Package wstest is a hand-built WebSocket client for tests: it does what
// real clients never do (drip bytes, skip the mask, send broken frames, stop
// reading), so tests can prove what the server does when they happen.
// Real-client tests use github.com/coder/websocket and Node instead.
package wstest
