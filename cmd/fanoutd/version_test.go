package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestVersionScript runs scripts/version.sh, which the Makefile stamps into
// the binary and the packages, in a scratch repository through its
// history: before any tag, on a tag, after it, on a pre-release tag, and
// with a modified tree. The package versions must sort as the releases do.
func TestVersionScript(t *testing.T) {
	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal("git is needed (scripts/deps.sh installs it)")
	}
	repo := t.TempDir()
	script, err := os.ReadFile(filepath.Join("..", "..", "scripts", "version.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(repo, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(repo, "scripts", "version.sh"), string(script))
	sh := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.invalid",
			"GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.invalid", "GIT_CONFIG_GLOBAL=/dev/null")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	commit := func() {
		sh(git, "add", "-A")
		sh(git, "commit", "-q", "--allow-empty", "-m", "c")
	}
	version := func() (bin, pkg string) {
		return sh("sh", "scripts/version.sh"), sh("sh", "scripts/version.sh", "--pkg")
	}
	sh(git, "init", "-q")
	commit()
	commit()
	hash := sh(git, "rev-parse", "--short=12", "HEAD")
	check := func(name, wantBin, wantPkg string) {
		t.Helper()
		bin, pkg := version()
		if !regexp.MustCompile("^"+wantBin+"$").MatchString(bin) || !regexp.MustCompile("^"+wantPkg+"$").MatchString(pkg) {
			t.Errorf("%s: %q / %q, want %q / %q", name, bin, pkg, wantBin, wantPkg)
		}
	}
	check("before any tag", `0\.0\.0-2-g`+hash, `0\.0\.0~git2\.g`+hash)
	sh(git, "tag", "v1.2.0")
	check("on a tag", `1\.2\.0`, `1\.2\.0`)
	commit()
	check("after a tag", `1\.2\.0-1-g[0-9a-f]{12}`, `1\.2\.0\+git1\.g[0-9a-f]{12}`)
	sh(git, "tag", "v1.3.0-rc1")
	check("pre-release tag", `1\.3\.0-rc1`, `1\.3\.0~rc1`)
	writeFile(t, filepath.Join(repo, "scripts", "version.sh"), string(script)+"\n")
	check("modified tree", `1\.3\.0-rc1-dirty`, `1\.3\.0~rc1\.dirty`)

	// The package versions sort as the releases: dpkg is the judge.
	if dpkg, err := exec.LookPath("dpkg"); err == nil {
		order := []string{"0.0.0~git2.g" + hash, "1.2.0", "1.2.0+git1.gabc", "1.3.0~rc1", "1.3.0"}
		for i := 1; i < len(order); i++ {
			if err := exec.Command(dpkg, "--compare-versions", order[i-1], "lt", order[i]).Run(); err != nil {
				t.Errorf("dpkg: %s does not sort before %s", order[i-1], order[i])
			}
		}
	}
}
