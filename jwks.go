package fanoutd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"

	"github.com/fanoutd/fanoutd/config"
	"github.com/fanoutd/fanoutd/daemon/jwtauth"
	"go.uber.org/zap"
)

// remoteJWKS returns the JWKS that cfg's auth.jwks_url asks for: the one
// in use when its settings did not change (a reload must not refetch, nor
// fail while the provider is down, for an unrelated key), else a new one,
// returned as fresh too: the caller adopts it (adoptJWKS) or closes it.
// Called from New, Check and Reload (under reloadMu).
func (s *Server) remoteJWKS(cfg config.Config) (r, fresh *jwtauth.RemoteJWKS, err error) {
	a := cfg.Auth
	if a.JWKSURL == "" {
		return nil, nil, nil
	}
	id := jwksID(a)
	if s.jwks != nil && s.jwksID == id {
		return s.jwks, nil, nil
	}
	client, err := jwksClient(a.JWKSCAFile)
	if err != nil {
		return nil, nil, err
	}
	log := s.log.Named("jwks")
	r, err = jwtauth.NewRemoteJWKS(jwtauth.RemoteOptions{URL: a.JWKSURL, Client: client, Refresh: a.JWKSRefresh,
		OnError: func(err error) { log.Warn("JWKS fetch failed; keeping the previous keys", zap.Error(err)) }})
	if err != nil {
		return nil, nil, fmt.Errorf("auth.jwks_url: %w", err)
	}
	return r, r, nil
}

func jwksID(a config.Auth) string {
	return a.JWKSURL + "\x00" + a.JWKSCAFile + "\x00" + a.JWKSRefresh.String()
}

// adoptJWKS makes r (nil: none) the JWKS in use under cfg and closes the
// one it replaces, once the verifier that used it is swapped out.
func (s *Server) adoptJWKS(r *jwtauth.RemoteJWKS, cfg config.Config) {
	if r == s.jwks {
		return
	}
	if s.jwks != nil {
		s.jwks.Close()
	}
	s.jwks, s.jwksID = r, jwksID(cfg.Auth)
}

// closeJWKS stops the JWKS refresh at shutdown.
func (s *Server) closeJWKS() {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	if s.jwks != nil {
		s.jwks.Close()
	}
}

// jwksClient is the HTTP client for auth.jwks_url: TLS 1.2 or later,
// trusting the system's roots and, when set, the CA certificates of
// auth.jwks_ca_file.
func jwksClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("auth.jwks_ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("auth.jwks_ca_file: %q holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig.RootCAs = pool
	}
	return &http.Client{Transport: tr}, nil
}
