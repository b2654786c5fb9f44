package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// tool returns the path of one of systemd's tools; like analyze, it fails
// rather than skips without it.
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is needed to check the shipped files (Debian: apt-get install systemd)", name)
	}
	return path
}

// TestSysusersAndTmpfiles applies the shipped sysusers.d and tmpfiles.d
// entries to an empty root, as the package's postinst applies them to /:
// the user and the publish group appear, and /run/fanoutd is the user's
// with the service's RuntimeDirectoryMode=, which is what keeps
// RuntimeDirectory= from chowning the socket.
func TestSysusersAndTmpfiles(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("run as root (as CI does): tmpfiles must chown /run/fanoutd in the test root")
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Absolute: with --root, a relative file is looked up inside the root.
	sysusers, _ := filepath.Abs("fanoutd.sysusers")
	tmpfiles, _ := filepath.Abs("fanoutd.tmpfiles")
	for _, c := range [][]string{
		{tool(t, "systemd-sysusers"), "--root=" + root, sysusers},
		{tool(t, "systemd-tmpfiles"), "--create", "--root=" + root, tmpfiles},
	} {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(c, " "), err, out)
		}
	}
	uid := idOf(t, filepath.Join(root, "etc/passwd"), "fanoutd")
	idOf(t, filepath.Join(root, "etc/group"), "fanoutd-publish")
	fi, err := os.Stat(filepath.Join(root, "run/fanoutd"))
	if err != nil {
		t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	if int(st.Uid) != uid || fi.Mode().Perm() != 0o755 || !fi.IsDir() {
		t.Fatalf("/run/fanoutd: %v uid %d, want a directory 0755 of uid %d", fi.Mode(), st.Uid, uid)
	}
	if !strings.Contains(readFile(t, "fanoutd.service"), "RuntimeDirectoryMode=0755\n") {
		t.Fatal("fanoutd.service's RuntimeDirectoryMode= differs from the tmpfiles.d entry")
	}
}

// idOf returns the numeric id of name in a passwd or group file.
func idOf(t *testing.T, file, name string) int {
	t.Helper()
	for _, line := range strings.Split(readFile(t, file), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == name {
			id, err := strconv.Atoi(f[2])
			if err != nil {
				t.Fatal(err)
			}
			return id
		}
	}
	t.Fatalf("%s has no %s", file, name)
	return -1
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
