package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Set at build time by the Makefile: -ldflags "-X main.version=… -X
// main.commit=…". version comes from `git describe --tags` (without the
// tag's "v"); before the first tag it reads 0.0.0-<commits>-g<sha>, which
// sorts below any release. Empty when built without the Makefile (go build,
// go install): buildVersion then falls back to what the Go toolchain
// recorded.
var (
	version string
	commit  string
)

// buildInfo is what `fanoutd version` prints.
type buildInfo struct {
	Version string // e.g. 0.1.0, 0.1.0-3-g1a2b3c4d5e6f-dirty, 0.0.0-dev
	Commit  string // the full hash, "unknown" when nothing recorded it
	Go      string // runtime.Version()
}

// currentBuild reads the ldflags, else runtime/debug.ReadBuildInfo: the
// module version for `go install …@vX.Y.Z`, and the vcs.* settings for a
// `go build` in a checkout (absent under -buildvcs=false).
func currentBuild() buildInfo {
	b := buildInfo{Version: version, Commit: commit, Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if ok && b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = strings.TrimPrefix(bi.Main.Version, "v")
	}
	if ok && b.Commit == "" {
		b.Commit, b.Version = vcsCommit(bi.Settings, b.Version)
	}
	if b.Version == "" {
		b.Version = "0.0.0-dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	return b
}

// vcsCommit returns the recorded revision, and marks a version made up
// here as dirty when the tree was modified.
func vcsCommit(settings []debug.BuildSetting, ver string) (string, string) {
	var rev string
	modified := false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if ver == "" && rev != "" {
		ver = "0.0.0-dev-g" + rev[:min(12, len(rev))]
		if modified {
			ver += "-dirty"
		}
	}
	return rev, ver
}

func (b buildInfo) String() string {
	return fmt.Sprintf("fanoutd %s\ncommit %s\n%s %s/%s\n", b.Version, b.Commit, b.Go, runtime.GOOS, runtime.GOARCH)
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit and the Go version it was built with",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprint(cmd.OutOrStdout(), currentBuild())
			return err
		},
	}
}
