package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// maxExposure is the highest overall exposure that `systemd-analyze
// security` may give fanoutd.service: 2.5 and below read "OK" or better.
const maxExposure = 2.5

// units are the shipped unit files, as the package installs them.
var units = []string{"fanoutd.service", "fanoutd.socket"}

// analyze returns the path of systemd-analyze. The tests fail without it,
// never skip: CI installs the systemd package for it (.ci/run).
func analyze(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze is needed to check the unit files (Debian: apt-get install systemd)")
	}
	return path
}

// installUnits copies the units to a temporary directory with
// /usr/bin/fanoutd replaced by an executable stand-in (verify checks that
// the commands exist; it runs none), and returns the directory.
func installUnits(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "fanoutd")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		if u == "fanoutd.service" && !strings.Contains(string(b), "ExecStart=/usr/bin/fanoutd ") {
			t.Fatalf("%s: ExecStart does not run /usr/bin/fanoutd", u)
		}
		b = []byte(strings.ReplaceAll(string(b), "/usr/bin/fanoutd", bin))
		if err := os.WriteFile(filepath.Join(dir, u), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func runAnalyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(analyze(t), args...)
	cmd.Env = append(os.Environ(), "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=cat", "SYSTEMD_LOG_COLOR=0")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestUnitsVerify: systemd-analyze verify finds nothing to say about the
// units, not even a warning (an unknown key is only a warning to systemd,
// and then silently ignored).
func TestUnitsVerify(t *testing.T) {
	dir := installUnits(t)
	args := []string{"verify"}
	for _, u := range units {
		args = append(args, filepath.Join(dir, u))
	}
	out, err := runAnalyze(t, args...)
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

var overall = regexp.MustCompile(`Overall exposure level for fanoutd\.service: ([0-9]+(?:\.[0-9]+)?)`)

// TestServiceExposure scores the service's sandbox the way an operator's
// audit would, and fails above maxExposure.
func TestServiceExposure(t *testing.T) {
	dir := installUnits(t)
	out, err := runAnalyze(t, "security", "--offline=true", "--no-pager", filepath.Join(dir, "fanoutd.service"))
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	m := overall.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no overall exposure in:\n%s", out)
	}
	score, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	if score > maxExposure {
		t.Fatalf("exposure %.1f, want at most %.1f:\n%s", score, maxExposure, out)
	}
	t.Logf("systemd-analyze security: %.1f", score)
}
