package web

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/authz/authz/models"
)

// notOnTheAPI are codes the source builds that the admin API never
// answers with.
var notOnTheAPI = map[string]string{
	"database_file_gone": "Store.Ping's, read only by /readyz",
}

// Every code the admin API can answer with is in docs/admin-api.md's
// errors table, in the row of the status the kinds table gives it. The
// codes are derived from the source: every models.Errorf call and
// models.Error literal in models, app, oauth and web (the console's ui*.go
// files excepted), a literal without a code standing for its kind's
// generic code.
func TestErrorCodesDocumented(t *testing.T) {
	kindOf := kindConstants(t)
	codes := map[string]int{}                          // code -> status
	codes["internal"] = http.StatusInternalServerError // any error that is not a models.Error
	add := func(pos token.Position, kindExpr ast.Expr, code string) {
		name := exprName(kindExpr)
		kind, ok := kindOf[name]
		if !ok {
			t.Errorf("%s: kind %q is not a models.Kind constant", pos, name)
			return
		}
		k, ok := kinds[kind]
		if !ok {
			t.Errorf("%s: kind %s has no row in web's kinds table", pos, kind)
			return
		}
		if code == "" {
			code = models.ErrorCode(&models.Error{Kind: kind})
		}
		if _, skip := notOnTheAPI[code]; !skip {
			codes[code] = k.status
		}
	}
	fset := token.NewFileSet()
	for _, dir := range []string{"../models", "../app", "../oauth", "."} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, path := range files {
			base := filepath.Base(path)
			if strings.HasSuffix(base, "_test.go") || (dir == "." && strings.HasPrefix(base, "ui")) {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.CallExpr:
					switch {
					case exprName(n.Fun) == "Errorf" && len(n.Args) >= 2 && exprName(n.Args[1]) == "code":
						// a helper's parameter: its callers are scanned (notFound)
					case exprName(n.Fun) == "Errorf" && len(n.Args) >= 2 && strings.HasPrefix(exprName(n.Args[0]), "Kind"):
						add(fset.Position(n.Pos()), n.Args[0], stringLit(t, fset, n.Args[1]))
					case exprName(n.Fun) == "notFound" && len(n.Args) == 3:
						add(fset.Position(n.Pos()), ast.NewIdent("KindNotFound"), stringLit(t, fset, n.Args[1]))
					}
				case *ast.CompositeLit:
					if exprName(n.Type) != "Error" {
						return true
					}
					var kindExpr, codeExpr ast.Expr
					for _, el := range n.Elts {
						if kv, ok := el.(*ast.KeyValueExpr); ok {
							switch exprName(kv.Key) {
							case "Kind":
								kindExpr = kv.Value
							case "Code":
								codeExpr = kv.Value
							}
						}
					}
					if kindExpr == nil || exprName(kindExpr) == "kind" { // Errorf's own body
						return true
					}
					code := ""
					if codeExpr != nil {
						code = stringLit(t, fset, codeExpr)
					}
					add(fset.Position(n.Pos()), kindExpr, code)
				}
				return true
			})
		}
	}
	if len(codes) < 20 {
		t.Fatalf("found %d codes in the source, want the admin API's (at least 20): is the scan broken?", len(codes))
	}

	doc, err := os.ReadFile("../docs/admin-api.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[int]string{} // status -> its row's codes
	for _, m := range regexp.MustCompile(`(?m)^\| (\d{3}) \| (.*) \|$`).FindAllStringSubmatch(string(doc), -1) {
		status, _ := strconv.Atoi(m[1])
		rows[status] = m[2]
	}
	for code, status := range codes {
		if !strings.Contains(rows[status], "`"+code+"`") {
			t.Errorf("docs/admin-api.md: code %s is missing from the errors table's %d row", code, status)
		}
	}
	for status, row := range rows {
		for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(row, -1) {
			if got, ok := codes[m[1]]; !ok || got != status {
				t.Errorf("docs/admin-api.md: the errors table's %d row lists %s, which the source answers with status %d (0: never)", status, m[1], got)
			}
		}
	}
}

// kindConstants maps the names of models' Kind constants to their values.
func kindConstants(t *testing.T) map[string]models.Kind {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../models/errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]models.Kind{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			vs := s.(*ast.ValueSpec)
			if exprName(vs.Type) != "Kind" {
				continue
			}
			for i, name := range vs.Names {
				v, err := strconv.Unquote(vs.Values[i].(*ast.BasicLit).Value)
				if err != nil {
					t.Fatal(err)
				}
				out[name.Name] = models.Kind(v)
			}
		}
	}
	if len(out) != len(kinds) {
		t.Errorf("models has %d kinds, web's kinds table %d: every kind needs one row", len(out), len(kinds))
	}
	return out
}

// exprName is the name an identifier or a selector (pkg.Name) ends with.
func exprName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	case *ast.StarExpr:
		return exprName(e.X)
	}
	return ""
}

func stringLit(t *testing.T, fset *token.FileSet, e ast.Expr) string {
	t.Helper()
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		t.Errorf("%s: an error code must be a string literal, so that it can be documented", fset.Position(e.Pos()))
		return ""
	}
	s, err := strconv.Unquote(lit.Value)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
