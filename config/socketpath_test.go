package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/spf13/pflag"
)

// TestSocketPath: file < environment < flag, and the rest of the file is
// not validated.
func TestSocketPath(t *testing.T) {
	file := filepath.Join(t.TempDir(), "f.yaml")
	if err := os.WriteFile(file, []byte("socket: /run/a.sock\nheartbeat:\n  timeout: 0s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	fs.String("socket", "", "")
	for name, c := range map[string]struct {
		src  Source
		args []string
		want string
	}{
		"default": {Source{Environ: []string{}}, nil, "./fanoutd.sock"},
		"file":    {Source{File: file, Environ: []string{}}, nil, "/run/a.sock"},
		"env":     {Source{File: file, Environ: []string{"FANOUTD_SOCKET=/run/b.sock"}}, nil, "/run/b.sock"},
		"flag":    {Source{File: file, Environ: []string{"FANOUTD_SOCKET=/run/b.sock"}, Flags: fs}, []string{"--socket", "/run/c.sock"}, "/run/c.sock"},
	} {
		if c.args != nil {
			if err := fs.Parse(c.args); err != nil {
				t.Fatal(err)
			}
		}
		got, err := SocketPath(c.src)
		if err != nil || got != c.want {
			t.Errorf("%s: %q %v, want %q", name, got, err, c.want)
		}
	}
	if _, err := SocketPath(Source{File: filepath.Join(t.TempDir(), "missing.yaml")}); err == nil {
		t.Error("a missing file was accepted")
	}
}
