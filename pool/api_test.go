package pool_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"
)

// apiBudget is the most exported identifiers package pool may have, as
// TestAPIWidth counts them. It was 244 before the package was narrowed; lower
// it when the API narrows further, and raise it only for a name users need.
const apiBudget = 124

// TestAPIWidth counts what a reader of the pool must learn: the exported
// top-level constants, variables, types and functions, and the exported
// methods of exported types (database/sql counts 121 this way). It fails
// when the count passes apiBudget, so the API cannot widen unseen;
// go test -v -run TestAPIWidth ./pool/ prints the count.
func TestAPIWidth(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset, n := token.NewFileSet(), 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			n += exportedIn(d)
		}
	}
	t.Logf("package pool exports %d identifiers (budget %d)", n, apiBudget)
	if n > apiBudget {
		t.Errorf("package pool exports %d identifiers, over its budget of %d: unexport what only the pool uses, or raise apiBudget for a name users need", n, apiBudget)
	}
}

// exportedIn counts the exported identifiers d declares.
func exportedIn(d ast.Decl) int {
	switch d := d.(type) {
	case *ast.FuncDecl:
		if !d.Name.IsExported() {
			return 0
		}
		if d.Recv == nil {
			return 1
		}
		recv := d.Recv.List[0].Type
		if star, ok := recv.(*ast.StarExpr); ok {
			recv = star.X
		}
		if id, ok := recv.(*ast.Ident); ok && id.IsExported() {
			return 1
		}
	case *ast.GenDecl:
		n := 0
		for _, s := range d.Specs {
			switch s := s.(type) {
			case *ast.TypeSpec:
				if s.Name.IsExported() {
					n++
				}
			case *ast.ValueSpec:
				for _, name := range s.Names {
					if name.IsExported() {
						n++
					}
				}
			}
		}
		return n
	}
	return 0
}
