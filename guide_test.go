package sshpool_test

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// guideBlock is one ```go block of migration-guide.md.
type guideBlock struct {
	line int    // line of the opening fence
	file string // DIR/NAME.go from the "// guide:file" line
	src  string
}

// guideBlocks extracts the ```go blocks of path. Each must start with a
// "// guide:file DIR/NAME.go" line (the convention the guide documents).
func guideBlocks(t *testing.T, path string) []guideBlock {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		blocks []guideBlock
		cur    *guideBlock
		body   strings.Builder
	)
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case cur == nil && line == "```go":
			cur = &guideBlock{line: n}
			body.Reset()
		case cur != nil && line == "```":
			cur.src = body.String()
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			body.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("%s:%d: unterminated ```go block", path, cur.line)
	}
	for i := range blocks {
		first, _, _ := strings.Cut(blocks[i].src, "\n")
		name, ok := strings.CutPrefix(first, "// guide:file ")
		if !ok || filepath.Dir(name) == "." || !strings.HasSuffix(name, ".go") {
			t.Fatalf("%s:%d: a go block must start with \"// guide:file DIR/NAME.go\", got %q", path, blocks[i].line, first)
		}
		blocks[i].file = filepath.Clean(name)
	}
	return blocks
}

// TestGuideSnippetsCompile writes every go block of the migration guide
// into a temporary directory inside the module and builds and vets it;
// packages with a wireinject file are also vetted with -tags wireinject
// and checked with wire.
func TestGuideSnippetsCompile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the guide's snippets with the go command")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	blocks := guideBlocks(t, "migration-guide.md")
	if len(blocks) < 5 {
		t.Fatalf("found %d go blocks in the guide, want at least 5", len(blocks))
	}
	// A leading underscore keeps the directory out of ./... patterns.
	root, err := os.MkdirTemp(".", "_guide-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dirs, wireDirs := writeBlocks(t, root, blocks)
	goCmd(t, goBin, append([]string{"build", "-o", os.DevNull}, dirs...)...)
	goCmd(t, goBin, append([]string{"vet"}, dirs...)...)
	if len(wireDirs) > 0 {
		goCmd(t, goBin, append([]string{"vet", "-tags", "wireinject"}, wireDirs...)...)
		goCmd(t, goBin, append([]string{"tool", "wire", "check"}, wireDirs...)...)
	}
}

// writeBlocks writes each block to root/DIR/NAME.go and returns the
// package directories ("./root/DIR") and those holding an injector.
func writeBlocks(t *testing.T, root string, blocks []guideBlock) (dirs, wireDirs []string) {
	t.Helper()
	for _, b := range blocks {
		path := filepath.Join(root, b.file)
		if _, err := os.Stat(path); err == nil {
			t.Fatalf("migration-guide.md:%d: %s appears twice", b.line, b.file)
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(b.src), 0o644); err != nil {
			t.Fatal(err)
		}
		dir := "./" + filepath.ToSlash(filepath.Dir(path))
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
		_, rest, _ := strings.Cut(b.src, "\n")
		if strings.HasPrefix(rest, "//go:build wireinject") && !slices.Contains(wireDirs, dir) {
			wireDirs = append(wireDirs, dir)
		}
	}
	return dirs, wireDirs
}

func goCmd(t *testing.T, goBin string, args ...string) {
	t.Helper()
	cmd := exec.Command(goBin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
