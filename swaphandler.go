package fanoutd

import (
	"net/http"
	"sync/atomic"
)

// swapHandler serves with the handler in force: a reload builds the routes
// anew from the new configuration (API key, body limit, peer allowlist,
// which endpoints are on) and swaps them in; requests already running
// finish on the old ones.
type swapHandler struct{ h atomic.Pointer[handlerBox] }

// handlerBox lets an interface value sit behind an atomic.Pointer.
type handlerBox struct{ http.Handler }

func newSwapHandler(h http.Handler) *swapHandler {
	s := &swapHandler{}
	s.set(h)
	return s
}

func (s *swapHandler) set(h http.Handler) { s.h.Store(&handlerBox{h}) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.Load().ServeHTTP(w, r) }
