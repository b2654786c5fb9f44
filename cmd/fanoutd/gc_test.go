package main

import (
	"context"
	"runtime/debug"
	"sync"
	"testing"

	"go.uber.org/zap"
)

func TestSetGCPercent(t *testing.T) {
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })

	if got := setGCPercent(func(string) string { return "" }); got != "50" {
		t.Errorf("without GOGC: reported %q, want 50", got)
	}
	if got := debug.SetGCPercent(100); got != defaultGCPercent {
		t.Errorf("without GOGC: GC percent %d, want %d", got, defaultGCPercent)
	}

	env := func(k string) string {
		if k == "GOGC" {
			return "200"
		}
		return ""
	}
	if got := setGCPercent(env); got != "200" {
		t.Errorf("with GOGC=200: reported %q", got)
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("with GOGC=200 in the environment the daemon changed the GC percent to %d", got)
	}
}

func TestStartMemTrimOnlyWithoutGOGC(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	defer bg.Wait()
	defer cancel()
	env := func(k string) string {
		if k == "GOGC" {
			return "100"
		}
		return ""
	}
	if startMemTrim(ctx, &bg, env, zap.NewNop()) {
		t.Error("the trim started although the environment sets GOGC")
	}
	if !startMemTrim(ctx, &bg, func(string) string { return "" }, zap.NewNop()) {
		t.Error("the trim did not start with the command's GC default")
	}
}
