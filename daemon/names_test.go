package daemon

import (
	"slices"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

func TestPermits(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		channel  string
		want     bool
	}{
		{"no patterns", nil, "news", false},
		{"empty pattern list", []string{}, "news", false},
		{"empty pattern", []string{""}, "news", false},
		{"star", []string{"*"}, "anything:at/all", true},
		{"exact", []string{"news"}, "news", true},
		{"exact is not a prefix", []string{"news"}, "news2", false},
		{"exact is not a suffix", []string{"news"}, "new", false},
		{"exact is case-sensitive", []string{"news"}, "News", false},
		{"prefix", []string{"project:*"}, "project:abc", true},
		{"prefix with empty rest", []string{"project:*"}, "project:", true},
		{"prefix mismatch", []string{"project:*"}, "projects:abc", false},
		{"prefix shorter than pattern", []string{"project:*"}, "project", false},
		{"star only at the end", []string{"*:news"}, "a:news", false},
		{"star in the middle is literal", []string{"a*b"}, "axb", false},
		{"second pattern", []string{"news", "user:u1"}, "user:u1", true},
		{"none of several", []string{"news", "user:u1", "project:*"}, "user:u2", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := permits(tt.patterns, tt.channel); got != tt.want {
				t.Errorf("permits(%q, %q) = %v, want %v", tt.patterns, tt.channel, got, tt.want)
			}
		})
	}
}

func TestExpandPatterns(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		sub      string
		want     []string
	}{
		{"nil", nil, "u1", []string{}},
		{"no placeholder", []string{"news", "project:*"}, "u1", []string{"news", "project:*"}},
		{"placeholder", []string{"user:{sub}"}, "alice", []string{"user:alice"}},
		{"placeholder twice", []string{"dm:{sub}:{sub}"}, "a", []string{"dm:a:a"}},
		{"placeholder with star", []string{"user:{sub}:*"}, "bob", []string{"user:bob:*"}},
		{"mixed", []string{"news", "user:{sub}"}, "u1", []string{"news", "user:u1"}},
		{"email subject", []string{"user:{sub}"}, "a.b+c@example.com", []string{"user:a.b+c@example.com"}},
		// A subject that could not be part of a channel name, or that would
		// widen the pattern, drops the pattern rather than expand it.
		{"empty subject", []string{"user:{sub}", "news"}, "", []string{"news"}},
		{"subject with star", []string{"user:{sub}"}, "*", []string{}},
		{"subject with space", []string{"user:{sub}"}, "a b", []string{}},
		{"subject with quote", []string{"user:{sub}"}, `a"b`, []string{}},
		{"subject with braces", []string{"user:{sub}"}, "{sub}", []string{}},
		{"subject non-ASCII", []string{"user:{sub}"}, "jürgen", []string{}},
		{"subject too long", []string{"user:{sub}"}, strings.Repeat("s", 1025), []string{}},
		{"other braces kept", []string{"user:{id}"}, "u1", []string{"user:{id}"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := expandPatterns(tt.patterns, tt.sub)
			if got == nil || !slices.Equal(got, tt.want) {
				t.Errorf("expandPatterns(%q, %q) = %q, want %q", tt.patterns, tt.sub, got, tt.want)
			}
			if len(tt.patterns) > 0 && len(got) > 0 && &got[0] == &tt.patterns[0] {
				t.Errorf("expandPatterns returned the caller's slice")
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name   string
		s      string
		maxLen int
		chars  *[256]bool
		want   bool
	}{
		{"channel letters digits", "Abc123", 255, &nameChars, true},
		{"channel punctuation", "_-.:@/=+,~!$|", 255, &nameChars, true},
		{"channel at max", strings.Repeat("a", 255), 255, &nameChars, true},
		{"channel over max", strings.Repeat("a", 256), 255, &nameChars, false},
		{"channel empty", "", 255, &nameChars, false},
		{"channel space", "a b", 255, &nameChars, false},
		{"channel tab", "a\tb", 255, &nameChars, false},
		{"channel NUL", "a\x00b", 255, &nameChars, false},
		{"channel DEL", "a\x7fb", 255, &nameChars, false},
		{"channel quote", `a"b`, 255, &nameChars, false},
		{"channel apostrophe", "a'b", 255, &nameChars, false},
		{"channel backslash", `a\b`, 255, &nameChars, false},
		{"channel star", "a*", 255, &nameChars, false},
		{"channel braces", "{sub}", 255, &nameChars, false},
		{"channel hash", "a#b", 255, &nameChars, false},
		{"channel angle", "<a>", 255, &nameChars, false},
		{"channel non-ASCII", "é", 255, &nameChars, false},
		{"channel invalid UTF-8", "\xff", 255, &nameChars, false},
		{"type plain", "story.status-changed_v2:x", 64, &typeChars, true},
		{"type at", "a@b", 64, &typeChars, false},
		{"type slash", "a/b", 64, &typeChars, false},
		{"type pipe", "a|b", 64, &typeChars, false},
		{"type bang", "a!", 64, &typeChars, false},
		{"type over max", strings.Repeat("t", 65), 64, &typeChars, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := validName(tt.s, tt.maxLen, tt.chars); got != tt.want {
				t.Errorf("validName(%q, %d) = %v, want %v", tt.s, tt.maxLen, got, tt.want)
			}
		})
	}
}

// Names go into JSON unescaped: no byte that JSON would escape may pass.
func TestNameCharsNeedNoJSONEscaping(t *testing.T) {
	for c := range 256 {
		special := c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '*' || c == '{' || c == '}'
		if nameChars[c] && special {
			t.Errorf("nameChars allows %q", rune(c))
		}
		if typeChars[c] && !nameChars[c] {
			t.Errorf("typeChars allows %q, which channel names do not", rune(c))
		}
	}
}

func TestProjectID(t *testing.T) {
	tests := []struct{ channel, want string }{
		{"project:abc-123", "abc-123"},
		{"project:a:b", "a:b"},
		{"project:", ""},
		{"project", ""},
		{"projects:abc", ""},
		{"Project:abc", ""},
		{"x:project:abc", ""},
		{"news", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			if got := projectID(tt.channel); got != tt.want {
				t.Errorf("projectID(%q) = %q, want %q", tt.channel, got, tt.want)
			}
		})
	}
}

// TestPermitsReservedOnlyByExactName: "*" and prefix patterns never reach
// the daemon's own channels; the exact name does.
func TestPermitsReservedOnlyByExactName(t *testing.T) {
	for _, tc := range []struct {
		patterns []string
		channel  string
		want     bool
	}{
		{[]string{"*"}, "fanoutd.status", false},
		{[]string{"fanoutd.*"}, "fanoutd.status", false},
		{[]string{"fanoutd.status*"}, "fanoutd.status", false},
		{[]string{"fanoutd.status"}, "fanoutd.status", true},
		{[]string{"*", "fanoutd.status"}, "fanoutd.status", true},
		{[]string{"*"}, "fanoutdX", true},
		{[]string{"*"}, "fanoutd", true},
	} {
		if got := permits(tc.patterns, tc.channel); got != tc.want {
			t.Errorf("permits(%q, %q) = %v, want %v", tc.patterns, tc.channel, got, tc.want)
		}
	}
}

// TestSubStarPatternWarnsOnce: a token pattern "user:{sub}*" lets "al"
// read "user:alice"; the node says so once, naming the pattern.
func TestSubStarPatternWarnsOnce(t *testing.T) {
	core, logs := observer.New(zap.WarnLevel)
	n := New(Options{Logger: zap.New(core)})
	connect(t, n, "al", "user:{sub}*")
	connect(t, n, "bo", "user:{sub}*")
	connect(t, n, "cy", "user:{sub}:*")
	if logs.Len() != 1 || logs.All()[0].ContextMap()["pattern"] != "user:{sub}*" {
		t.Fatalf("warnings %v, want one naming user:{sub}*", logs.All())
	}
}
