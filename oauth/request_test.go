package oauth

import (
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

const (
	formType  = "application/x-www-form-urlencoded"
	grantBody = "grant_type=client_credentials"
	credsBody = grantBody + "&client_id=azc_id&client_secret=azs_secret"
)

// basicAuth builds an RFC 6749 §2.3.1 header: the id and the secret each
// form-URL-encoded, then joined and base64-encoded.
func basicAuth(id, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id)+":"+url.QueryEscape(secret)))
}

// rawBasic base64-encodes s as is.
func rawBasic(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }

// params returns n distinct parameters joined as a form body.
func params(n int) string {
	p := make([]string, n)
	for i := range p {
		p[i] = fmt.Sprintf("p%d=v", i)
	}
	return strings.Join(p, "&")
}

// bodyOfLen returns a valid credentials body padded to exactly n bytes with
// parameters of at most 4096 characters.
func bodyOfLen(n int) string {
	var b strings.Builder
	b.WriteString(credsBody)
	for i := 0; b.Len() < n; i++ {
		name := fmt.Sprintf("&x%d=", i)
		room := n - b.Len() - len(name)
		if room < 0 {
			panic("bodyOfLen: cannot pad exactly")
		}
		b.WriteString(name)
		b.WriteString(strings.Repeat("a", min(room, 4096)))
	}
	return b.String()
}

type reqWant struct {
	// An error: its code and status.
	code   string
	status int
	// Or success.
	clientID, secret, scope, resource string
	basic                             bool
}

func okBody(id, secret string) reqWant { return reqWant{clientID: id, secret: secret} }

func TestParseTokenRequest(t *testing.T) {
	const specialID, specialSecret = "id+/=:%x y", "s+/=:%2Bé"
	invalidRequest := reqWant{code: "invalid_request", status: http.StatusBadRequest}
	invalidClient := reqWant{code: "invalid_client", status: http.StatusUnauthorized}
	invalidTarget := reqWant{code: "invalid_target", status: http.StatusBadRequest}

	tests := []struct {
		name        string
		method      string // POST when empty
		target      string // /oauth2/token when empty
		contentType string // formType when empty; "-" for none
		auth        string
		body        string
		want        reqWant
	}{
		{name: "body credentials", body: credsBody, want: okBody("azc_id", "azs_secret")},
		{name: "GET", method: http.MethodGet, body: credsBody, want: invalidRequest},
		{name: "PUT", method: http.MethodPut, body: credsBody, want: invalidRequest},
		{name: "query string", target: "/oauth2/token?x=1", body: credsBody, want: invalidRequest},
		{name: "credentials in query string", target: "/oauth2/token?client_id=a&client_secret=b", body: grantBody, want: invalidRequest},
		{name: "content type JSON", contentType: "application/json", body: `{"grant_type":"client_credentials"}`, want: invalidRequest},
		{name: "content type form with charset", contentType: formType + "; charset=UTF-8", body: credsBody, want: okBody("azc_id", "azs_secret")},
		{name: "content type upper case", contentType: "Application/X-WWW-Form-URLEncoded", body: credsBody, want: okBody("azc_id", "azs_secret")},
		{name: "content type multipart", contentType: "multipart/form-data; boundary=x", body: credsBody, want: invalidRequest},
		{name: "content type malformed", contentType: formType + "; =", body: credsBody, want: invalidRequest},
		{name: "missing content type", contentType: "-", body: credsBody, want: invalidRequest},
		{name: "body exactly 16 KiB", body: bodyOfLen(16 << 10), want: okBody("azc_id", "azs_secret")},
		{name: "body over 16 KiB", body: bodyOfLen(16<<10 + 1), want: invalidRequest},
		{name: "16 parameters", body: credsBody + "&" + params(13), want: okBody("azc_id", "azs_secret")},
		{name: "17 parameters", body: credsBody + "&" + params(14), want: invalidRequest},
		{name: "repeated scope", body: credsBody + "&scope=a&scope=b", want: invalidRequest},
		{name: "repeated grant_type", body: credsBody + "&" + grantBody, want: invalidRequest},
		{name: "repeated client_id", body: credsBody + "&client_id=other", want: invalidRequest},
		{name: "repeated resource", body: credsBody + "&resource=https://a.example&resource=https://b.example", want: invalidTarget},
		{name: "parameter of 4096 chars", body: credsBody + "&scope=" + strings.Repeat("s", 4096), want: reqWant{clientID: "azc_id", secret: "azs_secret", scope: strings.Repeat("s", 4096)}},
		{name: "parameter of 5000 chars", body: credsBody + "&scope=" + strings.Repeat("s", 5000), want: invalidRequest},
		{name: "parameter name of 65 chars", body: credsBody + "&" + strings.Repeat("n", 65) + "=1", want: invalidRequest},
		{name: "invalid percent-encoding", body: credsBody + "&scope=%zz", want: invalidRequest},
		{name: "semicolon separator", body: credsBody + ";scope=a", want: invalidRequest},
		{name: "NUL in body client_id", body: grantBody + "&client_id=azc%00id&client_secret=azs_secret", want: invalidRequest},
		{name: "invalid UTF-8 in body client_id", body: grantBody + "&client_id=azc_%FFid&client_secret=azs_secret", want: invalidRequest},
		{name: "NUL in body client_secret", body: grantBody + "&client_id=azc_id&client_secret=azs%00", want: invalidRequest},
		{name: "NUL in scope", body: credsBody + "&scope=a%00", want: invalidRequest},
		{name: "invalid UTF-8 in resource", body: credsBody + "&resource=https://a.example/%C3%28", want: invalidRequest},
		{name: "NUL in a parameter name", body: credsBody + "&a%00b=1", want: invalidRequest},
		{name: "invalid UTF-8 in a parameter name", body: credsBody + "&%FF=1", want: invalidRequest},
		{name: "UTF-8 in scope", body: credsBody + "&scope=caf%C3%A9", want: reqWant{clientID: "azc_id", secret: "azs_secret", scope: "café"}},
		{name: "Basic with NUL in id", body: grantBody, auth: basicAuth("azc\x00id", "azs_secret"), want: invalidRequest},
		{name: "Basic with invalid UTF-8 in id", body: grantBody, auth: rawBasic("azc_\xffid:azs_secret"), want: invalidRequest},
		{name: "Basic with NUL in secret", body: grantBody, auth: rawBasic("azc_id:azs%00"), want: invalidRequest},
		{name: "Basic with invalid UTF-8 in secret", body: grantBody, auth: basicAuth("azc_id", "azs\xc3\x28"), want: invalidRequest},
		{name: "missing grant_type", body: "client_id=azc_id&client_secret=azs_secret", want: invalidRequest},
		{name: "empty grant_type", body: "grant_type=&client_id=azc_id&client_secret=azs_secret", want: invalidRequest},
		{name: "empty body (no credentials is reported first)", body: "", want: invalidClient},
		{
			name: "Basic only with special characters", body: grantBody, auth: basicAuth(specialID, specialSecret),
			want: reqWant{clientID: specialID, secret: specialSecret, basic: true},
		},
		{
			name: "Basic with raw plus in secret", body: grantBody, auth: rawBasic("azc_id:a+b"),
			want: reqWant{clientID: "azc_id", secret: "a b", basic: true},
		},
		{
			name: "Basic with raw colon in secret", body: grantBody, auth: rawBasic("azc_id:a:b"),
			want: reqWant{clientID: "azc_id", secret: "a:b", basic: true},
		},
		{
			name: "Basic scheme lower case", body: grantBody, auth: "basic " + base64.StdEncoding.EncodeToString([]byte("azc_id:azs_secret")),
			want: reqWant{clientID: "azc_id", secret: "azs_secret", basic: true},
		},
		{name: "Basic not base64", body: grantBody, auth: "Basic !!!not-base64", want: invalidRequest},
		{name: "Basic without colon", body: grantBody, auth: rawBasic("azc_id"), want: invalidRequest},
		{name: "Basic with no credentials", body: grantBody, auth: "Basic", want: invalidRequest},
		{name: "Basic with bad percent-encoding in id", body: grantBody, auth: rawBasic("a%zz:secret"), want: invalidRequest},
		{name: "Basic with bad percent-encoding in secret", body: grantBody, auth: rawBasic("azc_id:%"), want: invalidRequest},
		{name: "Basic with empty secret", body: grantBody, auth: rawBasic("azc_id:"), want: invalidClient},
		{name: "Basic with empty id", body: grantBody, auth: rawBasic(":azs_secret"), want: invalidClient},
		{name: "Bearer scheme", body: credsBody, auth: "Bearer abc.def.ghi", want: invalidClient},
		{name: "Bearer scheme, no body credentials", body: grantBody, auth: "Bearer abc", want: invalidClient},
		{name: "Basic plus body client_secret", body: grantBody + "&client_secret=azs_secret", auth: basicAuth("azc_id", "azs_secret"), want: invalidRequest},
		{name: "Basic plus body client_id", body: grantBody + "&client_id=azc_id", auth: basicAuth("azc_id", "azs_secret"), want: invalidRequest},
		{name: "Basic plus empty body client_id", body: grantBody + "&client_id=", auth: basicAuth("azc_id", "azs_secret"), want: invalidRequest},
		{name: "body client_id without secret", body: grantBody + "&client_id=azc_id", want: invalidClient},
		{name: "body client_secret without id", body: grantBody + "&client_secret=azs_secret", want: invalidClient},
		{name: "body empty client_secret", body: grantBody + "&client_id=azc_id&client_secret=", want: invalidClient},
		{name: "no credentials", body: grantBody, want: invalidClient},
		{name: "empty scope treated as absent", body: credsBody + "&scope=", want: okBody("azc_id", "azs_secret")},
		{
			name: "scope and resource", body: credsBody + "&scope=read+write&resource=" + url.QueryEscape("https://api.example/v1"),
			want: reqWant{clientID: "azc_id", secret: "azs_secret", scope: "read write", resource: "https://api.example/v1"},
		},
		{name: "empty resource treated as absent", body: credsBody + "&resource=", want: okBody("azc_id", "azs_secret")},
		{name: "resource not absolute", body: credsBody + "&resource=/api", want: invalidTarget},
		{name: "resource host only", body: credsBody + "&resource=api.example", want: invalidTarget},
		{name: "resource with fragment", body: credsBody + "&resource=" + url.QueryEscape("https://api.example/#frag"), want: invalidTarget},
		{name: "resource unparsable", body: credsBody + "&resource=" + url.QueryEscape("https://[::1"), want: invalidTarget},
		{name: "resource URN", body: credsBody + "&resource=urn:example:api", want: reqWant{clientID: "azc_id", secret: "azs_secret", resource: "urn:example:api"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method, target := tc.method, tc.target
			if method == "" {
				method = http.MethodPost
			}
			if target == "" {
				target = "/oauth2/token"
			}
			r := httptest.NewRequest(method, target, strings.NewReader(tc.body))
			switch tc.contentType {
			case "":
				r.Header.Set("Content-Type", formType)
			case "-":
			default:
				r.Header.Set("Content-Type", tc.contentType)
			}
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}

			tr, err := parseTokenRequest(r)
			if tc.want.code != "" {
				if err == nil {
					t.Fatalf("got success %+v, want error %s", tr, tc.want.code)
				}
				if tr != nil {
					t.Errorf("got request %+v alongside error, want nil", tr)
				}
				if err.Code != tc.want.code {
					t.Errorf("got code %q (%s), want %q", err.Code, err.Description, tc.want.code)
				}
				if err.Status != tc.want.status {
					t.Errorf("got status %d, want %d", err.Status, tc.want.status)
				}
				if err.Description == "" {
					t.Errorf("got an empty description, want one")
				}
				return
			}
			if err != nil {
				t.Fatalf("got error %v, want success", err)
			}
			if tr.clientID != tc.want.clientID {
				t.Errorf("got clientID %q, want %q", tr.clientID, tc.want.clientID)
			}
			if tr.clientSecret != tc.want.secret {
				t.Errorf("got clientSecret %q, want %q", tr.clientSecret, tc.want.secret)
			}
			if tr.scope != tc.want.scope {
				t.Errorf("got scope %q, want %q", tr.scope, tc.want.scope)
			}
			if tr.resource != tc.want.resource {
				t.Errorf("got resource %q, want %q", tr.resource, tc.want.resource)
			}
			if tr.basic != tc.want.basic {
				t.Errorf("got basic %v, want %v", tr.basic, tc.want.basic)
			}
			checkParsedForm(t, tr, tc.body)
		})
	}
}

// checkParsedForm checks that the parsed form is exactly the body's.
func checkParsedForm(t *testing.T, tr *tokenRequest, body string) {
	t.Helper()
	want, err := url.ParseQuery(body)
	if err != nil {
		t.Fatalf("test body does not parse: %v", err)
	}
	if !reflect.DeepEqual(tr.form, want) {
		t.Errorf("got form %v, want %v", tr.form, want)
	}
}

// TestParseTokenRequestBasicRoundTrip checks that any id and secret survive
// the RFC 6749 §2.3.1 encoding.
func TestParseTokenRequestBasicRoundTrip(t *testing.T) {
	for _, pair := range [][2]string{
		{"a", "b"},
		{"+", "+"},
		{"/", "/"},
		{"=", "=="},
		{":", ":"},
		{"%", "%25"},
		{"a b", " "},
		{"ü", "日本"},
		{NewClientID(), NewSecret()},
	} {
		t.Run(pair[0]+" "+pair[1], func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(grantBody))
			r.Header.Set("Content-Type", formType)
			r.Header.Set("Authorization", basicAuth(pair[0], pair[1]))
			tr, err := parseTokenRequest(r)
			if err != nil {
				t.Fatalf("got error %v, want success", err)
			}
			if tr.clientID != pair[0] || tr.clientSecret != pair[1] {
				t.Errorf("got %q, %q; want %q, %q", tr.clientID, tr.clientSecret, pair[0], pair[1])
			}
		})
	}
}

// errReader fails on read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }

func TestParseTokenRequestBodyReadError(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/oauth2/token", errReader{})
	r.Header.Set("Content-Type", formType)
	_, err := parseTokenRequest(r)
	if err == nil || err.Code != "invalid_request" || err.Status != http.StatusBadRequest {
		t.Errorf("got %v, want invalid_request 400", err)
	}
}

func TestSafeName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"scope", `"scope"`},
		{"a\nb\x00c", `"a?b?c"`},
		{"é", `"?"`},
		{"\xc3", `"?"`},
		{strings.Repeat("x", 39) + "é", `"` + strings.Repeat("x", 39) + `?"`}, // cut inside the rune
		{strings.Repeat("x", 50), `"` + strings.Repeat("x", 40) + `"`},
	}
	for _, tc := range tests {
		if got := safeName(tc.in); got != tc.want {
			t.Errorf("safeName(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzParseTokenRequest(f *testing.F) {
	f.Add(credsBody, "", formType)
	f.Add(grantBody, basicAuth("azc_id", "azs_secret"), formType)
	f.Add(grantBody, rawBasic("a+b:c%2Fd"), formType+"; charset=UTF-8")
	f.Add(grantBody+"&client_id=x", basicAuth("x", "y"), formType)
	f.Add(credsBody+"&resource=https://a.example&resource=https://b.example", "", formType)
	f.Add(credsBody+"&scope=%zz", "", formType)
	f.Add(credsBody+"&resource=https://a.example/#f", "Bearer x", formType)
	f.Add(credsBody+";a=b", "Basic !!", "application/json")
	f.Add(params(17), "Basic", "")
	f.Add("\xff\x00=%00&=", "Basic "+base64.StdEncoding.EncodeToString([]byte("\xff:\x00")), formType+";;")
	f.Add(credsBody+"&scope=a%00&%FF=%C3%28", "", formType)
	f.Add(grantBody, basicAuth("azc\x00id", "azs\xff"), formType)
	f.Fuzz(func(t *testing.T, body, auth, contentType string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		r.Header.Set("Authorization", auth)
		tr, err := parseTokenRequest(r)
		if err != nil {
			if tr != nil {
				t.Fatalf("got request %+v alongside error %v", tr, err)
			}
			if err.Code == "" {
				t.Fatalf("got error with an empty code: %+v", err)
			}
			if err.Status != http.StatusBadRequest && err.Status != http.StatusUnauthorized {
				t.Fatalf("got status %d for %v, want 400 or 401", err.Status, err)
			}
			return
		}
		if tr.clientID == "" || tr.clientSecret == "" {
			t.Fatalf("got success with clientID %q, secret %q; want both non-empty", tr.clientID, tr.clientSecret)
		}
		if tr.form.Get("grant_type") == "" {
			t.Fatalf("got success without grant_type: %v", tr.form)
		}
		if len(body) > maxBodyBytes {
			t.Fatalf("got success for a %d-byte body", len(body))
		}
		if len(tr.form) > maxParams {
			t.Fatalf("got success with %d parameters", len(tr.form))
		}
		for name, vs := range tr.form {
			if len(vs) != 1 {
				t.Fatalf("got success with parameter %q repeated: %q", name, vs)
			}
			for _, s := range []string{name, vs[0]} {
				if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
					t.Fatalf("got success with parameter %q = %q: want valid UTF-8 without NUL", name, vs[0])
				}
			}
		}
		for _, s := range []string{tr.clientID, tr.clientSecret} {
			if !utf8.ValidString(s) || strings.Contains(s, "\x00") {
				t.Fatalf("got success with credentials %q, %q: want valid UTF-8 without NUL", tr.clientID, tr.clientSecret)
			}
		}
		if tr.basic {
			if _, ok := tr.form["client_id"]; ok {
				t.Fatalf("got success with Basic and body client_id")
			}
			if _, ok := tr.form["client_secret"]; ok {
				t.Fatalf("got success with Basic and body client_secret")
			}
		} else if tr.clientID != tr.form.Get("client_id") || tr.clientSecret != tr.form.Get("client_secret") {
			t.Fatalf("got body credentials %q, %q not from the form %v", tr.clientID, tr.clientSecret, tr.form)
		}
		if tr.resource != "" {
			if u, err := url.Parse(tr.resource); err != nil || !u.IsAbs() || u.Fragment != "" {
				t.Fatalf("got success with resource %q", tr.resource)
			}
		}
	})
}

// The body is read by its Content-Length when it has one; one that ends
// early is refused, and one without a length is still read.
func TestReadBody(t *testing.T) {
	const body = "grant_type=client_credentials&scope=a"
	for _, tc := range []struct {
		name    string
		length  int64
		want    string
		wantErr bool
	}{
		{"declared length", int64(len(body)), body, false},
		{"no length", -1, body, false},
		{"shorter than declared", int64(len(body)) + 10, "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/oauth2/token", io.NopCloser(strings.NewReader(body)))
			r.ContentLength = tc.length
			got, err := readBody(r)
			if (err != nil) != tc.wantErr || string(got) != tc.want {
				t.Errorf("readBody: got %q, %v; want %q, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
