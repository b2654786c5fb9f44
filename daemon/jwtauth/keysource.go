package jwtauth

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// reloadEvery is how often Verify looks at the key file's mtime and size.
const reloadEvery = time.Second

// maxKeyFileBytes caps what a key file may hold; a real JWKS is a few KiB.
const maxKeyFileBytes = 1 << 20

// keySource is a key file (PEM or JWKS) that is re-read when it changes.
//
// Readers never block: the keys sit behind an atomic pointer. At most one
// goroutine at a time stats and reloads the file (mu); a Verify that finds
// another one doing so carries on with the current keys.
type keySource struct {
	path    string
	parse   func([]byte) (*keySet, error)
	now     func() time.Time
	onError func(error) // may be nil

	keys atomic.Pointer[keySet]
	next atomic.Int64 // UnixNano before which Verify does not stat the file

	mu   sync.Mutex  // held while stating or reading the file
	info os.FileInfo // of the last version read, good or bad; nil after a failed stat
}

// load reads the file the first time; an error is fatal to New.
func (s *keySource) load() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next.Store(s.now().Add(reloadEvery).UnixNano())
	return s.reloadLocked()
}

// current returns the keys, first re-reading the file if it is due for a
// look and has changed.
func (s *keySource) current() *keySet {
	if s.due(s.now()) && s.mu.TryLock() {
		err := s.checkLocked()
		s.mu.Unlock()
		// Called unlocked, so that the callback may call Reload.
		if err != nil && s.onError != nil {
			s.onError(err)
		}
	}
	return s.keys.Load()
}

// due reports whether the file should be looked at. A clock that went back
// by more than the period makes the check due at once rather than after the
// clock catches up.
func (s *keySource) due(now time.Time) bool {
	n, next := now.UnixNano(), s.next.Load()
	return n >= next || next-n > int64(reloadEvery)
}

// checkLocked stats the file and reloads it if its identity, mtime or size
// changed. A version that failed to load is not retried until it changes,
// and a missing file is reported once per absence.
func (s *keySource) checkLocked() error {
	now := s.now()
	if !s.due(now) { // another goroutine checked while we waited for mu
		return nil
	}
	s.next.Store(now.Add(reloadEvery).UnixNano())
	fi, err := os.Stat(s.path)
	if err != nil {
		if s.info == nil {
			return nil
		}
		s.info = nil
		return fmt.Errorf("jwtauth: reload %s: %w: %v (keeping the old keys)", s.path, ErrKeyFile, err)
	}
	if s.info != nil && os.SameFile(fi, s.info) && fi.ModTime().Equal(s.info.ModTime()) && fi.Size() == s.info.Size() {
		return nil
	}
	if err := s.reloadLocked(); err != nil {
		return fmt.Errorf("%w (keeping the old keys)", err)
	}
	return nil
}

// reloadLocked reads and parses the file, replacing the keys on success.
// The file is stated before it is read: a change racing with the read is
// seen by the next check.
func (s *keySource) reloadLocked() error {
	fi, err := os.Stat(s.path)
	if err != nil {
		s.info = nil
		return fmt.Errorf("jwtauth: %w: %v", ErrKeyFile, err)
	}
	s.info = fi
	data, err := readCapped(s.path)
	if err != nil {
		return fmt.Errorf("jwtauth: %w: %v", ErrKeyFile, err)
	}
	set, err := s.parse(data)
	if err != nil {
		return fmt.Errorf("jwtauth: %s: %w", s.path, err)
	}
	s.keys.Store(set)
	return nil
}

// reload re-reads the file now, whatever its mtime.
func (s *keySource) reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next.Store(s.now().Add(reloadEvery).UnixNano())
	return s.reloadLocked()
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err == nil && len(data) > maxKeyFileBytes {
		err = fmt.Errorf("%s is over %d bytes", path, maxKeyFileBytes)
	}
	return data, err
}
