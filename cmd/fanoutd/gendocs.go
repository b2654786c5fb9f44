package main

import (
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

// newGenCmd writes the manual pages and the shell completions that the
// release packages ship, from the commands themselves, so that they cannot
// drift from the flags. Hidden: it is for `make release`, not for users
// (who have `fanoutd completion`). The pages' date is SOURCE_DATE_EPOCH
// when set, which keeps the packages reproducible.
func newGenCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:    "gen-docs",
		Short:  "Write the manual pages (DIR/man1) and the shell completions (DIR/completions)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return genDocs(cmd.Root(), dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "output directory (required)")
	_ = cmd.MarkFlagRequired("dir")
	return cmd
}

func genDocs(root *cobra.Command, dir string) error {
	man := filepath.Join(dir, "man1")
	comp := filepath.Join(dir, "completions")
	for _, d := range []string{man, comp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	root.DisableAutoGenTag = true // no generation date in the output
	header := &doc.GenManHeader{Title: "FANOUTD", Section: "1", Source: "fanoutd " + currentBuild().Version,
		Manual: "fanoutd manual"}
	if err := doc.GenManTree(root, header, man); err != nil {
		return err
	}
	files := []struct {
		name string
		gen  func(string) error
	}{
		{"fanoutd.bash", func(p string) error { return root.GenBashCompletionFileV2(p, true) }},
		{"_fanoutd", root.GenZshCompletionFile},
		{"fanoutd.fish", func(p string) error { return root.GenFishCompletionFile(p, true) }},
	}
	for _, f := range files {
		if err := f.gen(filepath.Join(comp, f.name)); err != nil {
			return err
		}
	}
	return nil
}
