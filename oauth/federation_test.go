package oauth

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/authz/authz/models"
)

var subjectCases = []struct {
	pattern, sub string
	want         bool
}{
	{"repo:acme/api:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main", true},
	{"repo:acme/api:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/dev", false},
	{"repo:acme/api:ref:refs/heads/main", "repo:acme/api:ref:refs/heads/main2", false},
	{"repo:acme/api:*", "repo:acme/api:ref:refs/heads/main", true},
	{"repo:acme/api:*", "repo:acme/api:environment:production", true},
	{"repo:acme/api:*", "repo:acme/api-internal:ref:refs/heads/main", false}, // the colon is literal
	{"repo:acme/api*", "repo:acme/api-internal:ref:refs/heads/main", true},   // * crosses - and :
	{"repo:acme/*:ref:refs/heads/main", "repo:acme/web:ref:refs/heads/main", true},
	{"repo:acme/*:ref:refs/heads/main", "repo:acme/web:ref:refs/heads/main:x", false},
	{"repo:acme/*:ref:refs/heads/main", "repo:acme/a/b:ref:refs/heads/main", true}, // * crosses /
	{"repo:acme/api:ref:refs/*", "repo:acme/api:ref:refs/", true},                  // * matches nothing too
	{"repo:acme/api:ref:refs/heads/*", "repo:ACME/api:ref:refs/heads/main", false}, // case matters
	{"a*b*c", "abc", true},
	{"a*b*c", "aXbYc", true},
	{"a*b*c", "acb", false},
	{"a*a", "a", false},
	{"ab*ba", "aba", false},
	{"a?c", "abc", false}, // ? is literal
	{"a?c", "a?c", true},
	{"a[b]c", "abc", false},
	{"", "", true},
}

func TestMatchSubject(t *testing.T) {
	for _, c := range subjectCases {
		if got := MatchSubject(c.pattern, c.sub); got != c.want {
			t.Errorf("MatchSubject(%q, %q) = %v, want %v", c.pattern, c.sub, got, c.want)
		}
	}
}

// TestCheckBinding is the table of the too-wide rules (docs/design.md):
// each refusal with its code, each acceptance with none.
func TestCheckBinding(t *testing.T) {
	for _, c := range []struct {
		subject    string
		conditions map[string]string
		code       string // "" accepted
	}{
		{"repo:acme/api:ref:refs/heads/main", nil, ""},
		{"repo:acme/api:*", nil, ""},
		{"repo:acme/*", map[string]string{"environment": "production"}, ""},
		{"", nil, "binding_too_wide"},
		{"*", nil, "binding_too_wide"},
		{"**", nil, "binding_too_wide"},
		{"*:ref:refs/heads/main", nil, "binding_too_wide"},
		{"repo:*", nil, "binding_too_wide"},
		{"repo:acme*", nil, "binding_too_wide"}, // owner acme-evil too
		{"repo:ac*me/api:ref:refs/heads/main", nil, "binding_too_wide"},
		{"repo*", nil, "binding_too_wide"}, // within the prefix
		{"rep*", nil, "binding_too_wide"},
		{"system:serviceaccount:payments:worker", nil, ""},
		{"system:serviceaccount:payments:default", nil, "binding_too_wide"},
		{"system:serviceaccount:payments:*", nil, "binding_too_wide"},
		{"system:serviceaccount:payments:work*", nil, "binding_too_wide"},
		{"system:serviceaccount:*:worker", nil, "binding_too_wide"},
		{"system:serviceaccount:pay*:worker", nil, "binding_too_wide"},
		{"system:*", nil, "binding_too_wide"},
		{"system:serviceaccount:payments", nil, "invalid_subject"},
		{"spiffe://example.org/ns/payments/sa/worker", nil, ""},
		{"spiffe://example.org/ns/*", nil, ""},
		{"spiffe://example.org/*", nil, "binding_too_wide"},
		{"spiffe://*.org/ns/payments", nil, "binding_too_wide"},
		{"spiffe://example.org", nil, "binding_too_wide"},
		{"project_path:acme/api:ref_type:branch:ref:main", nil, ""},
		{"project_path:acme/*", nil, ""},
		{"pro*", nil, "binding_too_wide"},
		{"line\nbreak", nil, "invalid_subject"},
		{strings.Repeat("a", 513), nil, "invalid_subject"},
		{"repo:acme/api:*", map[string]string{"kubernetes.io/namespace": "payments", "repository_owner": "acme"}, ""},
		{"repo:acme/api:*", map[string]string{"aud": "x"}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"sub": "x"}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"iss/x": "x"}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"a//b": "x"}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"/a": "x"}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"environment": ""}, "invalid_condition"},
		{"repo:acme/api:*", map[string]string{"c1": "1", "c2": "1", "c3": "1", "c4": "1", "c5": "1", "c6": "1", "c7": "1", "c8": "1", "c9": "1", "c10": "1", "c11": "1"}, "invalid_condition"},
	} {
		err := CheckBinding(c.subject, c.conditions)
		if got := models.ErrorCode(err); got != c.code || (c.code != "" && models.ErrorKind(err) != models.KindInvalid) {
			t.Errorf("CheckBinding(%q, %v) = %v (code %q), want code %q", c.subject, c.conditions, err, got, c.code)
		}
	}
}

func TestClaimAt(t *testing.T) {
	var claims map[string]any
	_ = json.Unmarshal([]byte(`{"environment":"production","run_number":42,"private":true,"groups":["a"],
		"kubernetes.io":{"namespace":"payments","serviceaccount":{"name":"worker"}}}`), &claims)
	for _, c := range []struct {
		path, want string
		ok         bool
	}{
		{"environment", "production", true},
		{"kubernetes.io/namespace", "payments", true},
		{"kubernetes.io/serviceaccount/name", "worker", true},
		{"kubernetes.io/serviceaccount", "", false}, // an object
		{"kubernetes.io/pod/name", "", false},       // missing
		{"run_number", "", false},                   // a number
		{"private", "", false},
		{"groups", "", false},
		{"environment/x", "", false},
		{"missing", "", false},
	} {
		if got, ok := ClaimAt(claims, c.path); got != c.want || ok != c.ok {
			t.Errorf("ClaimAt(%q) = %q, %v; want %q, %v", c.path, got, ok, c.want, c.ok)
		}
	}
}

// FuzzSubjectBinding checks MatchSubject against a regular expression of
// the same pattern, and that a pattern CheckBinding accepts matches no
// subject of a Kubernetes default service account, and a GitHub or SPIFFE
// subject only of the owner or trust domain it names.
func FuzzSubjectBinding(f *testing.F) {
	for _, c := range subjectCases {
		f.Add(c.pattern, c.sub)
	}
	f.Add("system:serviceaccount:zz:*", "system:serviceaccount:zz:default")
	f.Add("repo:zz/*", "repo:zz/x:ref:refs/heads/main")
	f.Fuzz(func(t *testing.T, pattern, sub string) {
		if !utf8.ValidString(pattern) || !utf8.ValidString(sub) {
			return // a regular expression is UTF-8; CheckBinding refuses such a pattern
		}
		re := regexp.MustCompile(`(?s)^` + strings.ReplaceAll(regexp.QuoteMeta(pattern), `\*`, `.*`) + `$`)
		if got, want := MatchSubject(pattern, sub), re.MatchString(sub); got != want {
			t.Fatalf("MatchSubject(%q, %q) = %v, the regular expression says %v", pattern, sub, got, want)
		}
		if CheckBinding(pattern, nil) != nil {
			return
		}
		for _, s := range []struct{ sub, owner string }{
			{"system:serviceaccount:zzqfuzz:default", "-"},
			{"repo:zzqfuzz/x:ref:refs/heads/main", "repo:zzqfuzz/"},
			{"spiffe://zzqfuzz.example/x", "spiffe://zzqfuzz.example/x"},
		} {
			if MatchSubject(pattern, s.sub) && !strings.HasPrefix(pattern, s.owner) {
				t.Fatalf("CheckBinding accepted %q, which matches %q", pattern, s.sub)
			}
		}
	})
}
