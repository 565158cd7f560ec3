package oauth

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"

	"github.com/authz/authz/models"
)

// refChecksum recomputes a credential's checksum independently of
// checksum(): CRC32-IEEE of everything before it, written as 6 big-endian
// base62 digits (most significant first).
func refChecksum(body string) string {
	v := uint64(crc32.ChecksumIEEE([]byte(body)))
	const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	var digits [6]byte
	pow := uint64(62 * 62 * 62 * 62 * 62) // 62^5
	for i := range digits {
		digits[i] = alphabet[v/pow]
		v %= pow
		pow /= 62
	}
	return string(digits[:])
}

func isBase62(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z') {
			return false
		}
	}
	return true
}

const (
	wantSecretLen   = 4 + 43 + 6 // azs_ (azo_, azp_) + random + checksum
	wantClientIDLen = 4 + 20 + 6 // azc_ + random + checksum
)

// The client kinds and their secret prefixes, spelled out independently of
// secret.go.
const (
	project, organization, publishable = models.ClientKindProject, models.ClientKindOrganization, models.ClientKindPublishable
)

var kindPrefixes = []struct{ kind, prefix string }{
	{project, "azs_"},
	{organization, "azo_"},
	{publishable, "azp_"},
}

// withChecksum returns body followed by its correct checksum.
func withChecksum(body string) string { return body + refChecksum(body) }

// secretFormatCases are shared by the table test and the fuzz seed corpus.
// wantKind is the kind of a well-formed secret, empty for anything else.
var secretFormatCases = []struct {
	name         string
	in           string
	wantKind     string
	wantClientID bool
}{
	{"valid project secret", withChecksum("azs_" + strings.Repeat("a", 43)), project, false},
	{"valid project secret mixed", withChecksum("azs_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"), project, false},
	{"valid organization secret", withChecksum("azo_" + strings.Repeat("a", 43)), organization, false},
	{"valid organization secret mixed", withChecksum("azo_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"), organization, false},
	{"valid publishable secret", withChecksum("azp_" + strings.Repeat("a", 43)), publishable, false},
	{"valid publishable secret mixed", withChecksum("azp_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"), publishable, false},
	{"valid client id", withChecksum("azc_" + strings.Repeat("Z", 20)), "", true},
	{"empty", "", "", false},
	{"prefix only", "azs_", "", false},
	{"organization prefix only", "azo_", "", false},
	{"publishable prefix only", "azp_", "", false},
	{"secret wrong prefix", withChecksum("azx_" + strings.Repeat("a", 43)), "", false},
	{"secret with client prefix", withChecksum("azc_" + strings.Repeat("a", 43)), "", false},
	{"client id with secret prefix", withChecksum("azs_" + strings.Repeat("Z", 20)), "", false},
	{"client id with organization prefix", withChecksum("azo_" + strings.Repeat("Z", 20)), "", false},
	{"uppercase prefix", withChecksum("AZS_" + strings.Repeat("a", 43)), "", false},
	{"uppercase organization prefix", withChecksum("AZO_" + strings.Repeat("a", 43)), "", false},
	{"secret too short", withChecksum("azs_" + strings.Repeat("a", 42)), "", false},
	{"secret too long", withChecksum("azs_" + strings.Repeat("a", 44)), "", false},
	{"organization secret too short", withChecksum("azo_" + strings.Repeat("a", 42)), "", false},
	{"publishable secret too long", withChecksum("azp_" + strings.Repeat("a", 44)), "", false},
	{"client id too short", withChecksum("azc_" + strings.Repeat("Z", 19)), "", false},
	{"client id too long", withChecksum("azc_" + strings.Repeat("Z", 21)), "", false},
	{"non-base62 in body", withChecksum("azs_" + strings.Repeat("a", 42) + "-"), "", false},
	{"underscore in body", withChecksum("azs_" + strings.Repeat("a", 42) + "_"), "", false},
	{"non-ASCII in body", withChecksum("azs_" + strings.Repeat("a", 41) + "é"), "", false},
	{"NUL in body", withChecksum("azs_" + strings.Repeat("a", 42) + "\x00"), "", false},
	{"non-base62 in publishable body", withChecksum("azp_" + strings.Repeat("a", 42) + "-"), "", false},
	{"non-base62 in checksum", "azs_" + strings.Repeat("a", 43) + "-----!", "", false},
	{"wrong checksum", "azs_" + strings.Repeat("a", 43) + "000000", "", false},
	{"wrong organization checksum", "azo_" + strings.Repeat("a", 43) + "000000", "", false},
	{"checksum of other body", "azs_" + strings.Repeat("a", 43) + refChecksum("azs_"+strings.Repeat("b", 43)), "", false},
	// The checksum covers the prefix: relabelling a secret as another
	// kind's breaks it.
	{"project secret relabelled organization", "azo_" + strings.Repeat("a", 43) + refChecksum("azs_"+strings.Repeat("a", 43)), "", false},
	{"organization secret relabelled publishable", "azp_" + strings.Repeat("a", 43) + refChecksum("azo_"+strings.Repeat("a", 43)), "", false},
	{"publishable secret relabelled project", "azs_" + strings.Repeat("a", 43) + refChecksum("azp_"+strings.Repeat("a", 43)), "", false},
	{"trailing space", withChecksum("azs_"+strings.Repeat("a", 43)) + " ", "", false},
	{"leading space", " " + withChecksum("azs_"+strings.Repeat("a", 42)), "", false},
}

func TestValidSecretTable(t *testing.T) {
	for _, tc := range secretFormatCases {
		t.Run(tc.name, func(t *testing.T) {
			if got, want := ValidSecret(tc.in), tc.wantKind != ""; got != want {
				t.Errorf("ValidSecret(%q) = %v, want %v", tc.in, got, want)
			}
			if kind, ok := SecretKind(tc.in); kind != tc.wantKind || ok != (tc.wantKind != "") {
				t.Errorf("SecretKind(%q) = %q, %v; want %q, %v", tc.in, kind, ok, tc.wantKind, tc.wantKind != "")
			}
			if got := ValidClientID(tc.in); got != tc.wantClientID {
				t.Errorf("ValidClientID(%q) = %v, want %v", tc.in, got, tc.wantClientID)
			}
		})
	}
}

func TestChecksumMatchesReference(t *testing.T) {
	for _, body := range []string{"", "azs_", "azc_abc", "azs_" + strings.Repeat("z", 43), "\xff\x00"} {
		sum := checksum(body)
		if got, want := string(sum[:]), refChecksum(body); got != want {
			t.Errorf("checksum(%q) = %q, want %q", body, got, want)
		}
	}
}

func TestNewSecret(t *testing.T) {
	for range 100 {
		s := NewSecret()
		checkGenerated(t, s, SecretPrefix, wantSecretLen)
		if !ValidSecret(s) {
			t.Errorf("ValidSecret(%q) = false, want true", s)
		}
		if ValidClientID(s) {
			t.Errorf("ValidClientID(%q) = true, want false", s)
		}
	}
}

func TestNewSecretFor(t *testing.T) {
	for _, k := range kindPrefixes {
		t.Run(k.kind, func(t *testing.T) {
			for range 100 {
				s, err := NewSecretFor(k.kind)
				if err != nil {
					t.Fatalf("NewSecretFor(%q): got error %v, want nil", k.kind, err)
				}
				checkGenerated(t, s, k.prefix, wantSecretLen)
				if kind, ok := SecretKind(s); kind != k.kind || !ok {
					t.Errorf("SecretKind(%q) = %q, %v; want %q, true", s, kind, ok, k.kind)
				}
				if !ValidSecret(s) {
					t.Errorf("ValidSecret(%q) = false, want true", s)
				}
				if ValidClientID(s) {
					t.Errorf("ValidClientID(%q) = true, want false", s)
				}
			}
		})
	}
	// The kind may come from a request: an unknown one is the caller's
	// mistake, with a stable code, not a panic.
	for _, kind := range []string{"", "Project", "project ", "client", "azs_", "organisation"} {
		t.Run("unknown "+kind, func(t *testing.T) {
			s, err := NewSecretFor(kind)
			if s != "" || models.ErrorKind(err) != models.KindInvalid || models.ErrorCode(err) != "invalid_request" {
				t.Errorf("NewSecretFor(%q) = %q, %v (%s); want \"\", an invalid_request error", kind, s, err, models.ErrorCode(err))
			}
		})
	}
}

// The regular expressions docs/security.md gives secret scanners find every
// kind's secret in text, by its kind, and nothing else generated.
func TestScannerPatterns(t *testing.T) {
	for _, k := range kindPrefixes {
		re := regexp.MustCompile(`\b` + k.prefix + `[0-9A-Za-z]{49}\b`)
		for _, other := range kindPrefixes {
			s := secretsOf(other.kind)()
			text := "export TOKEN=" + s + "\n"
			want := ""
			if other.kind == k.kind {
				want = s
			}
			if got := re.FindString(text); got != want {
				t.Errorf("%s in %q: got %q, want %q", re, text, got, want)
			}
		}
		if id := NewClientID(); re.MatchString(id) {
			t.Errorf("%s matches the client id %q", re, id)
		}
	}
}

func TestNewClientID(t *testing.T) {
	for range 100 {
		id := NewClientID()
		checkGenerated(t, id, ClientIDPrefix, wantClientIDLen)
		if !ValidClientID(id) {
			t.Errorf("ValidClientID(%q) = false, want true", id)
		}
		if ValidSecret(id) {
			t.Errorf("ValidSecret(%q) = true, want false", id)
		}
	}
}

func checkGenerated(t *testing.T, tok, prefix string, n int) {
	t.Helper()
	if !strings.HasPrefix(tok, prefix) {
		t.Errorf("%q: got no prefix %q", tok, prefix)
	}
	if len(tok) != n {
		t.Errorf("%q: got length %d, want %d", tok, len(tok), n)
	}
	if !isBase62(strings.TrimPrefix(tok, prefix)) {
		t.Errorf("%q: got non-base62 characters after the prefix", tok)
	}
	if len(tok) >= 6 {
		if got, want := tok[len(tok)-6:], refChecksum(tok[:len(tok)-6]); got != want {
			t.Errorf("%q: got checksum %q, want %q", tok, got, want)
		}
	}
}

func TestNewSecretDistinct(t *testing.T) {
	const n = 10_000
	seen := make(map[string]struct{}, n)
	randoms := make(map[string]struct{}, n)
	for range n {
		s := NewSecret()
		if _, dup := seen[s]; dup {
			t.Fatalf("got duplicate secret %q after %d", s, len(seen))
		}
		seen[s] = struct{}{}
		randoms[s[4:4+43]] = struct{}{}
	}
	if len(randoms) != n {
		t.Errorf("got %d distinct random parts, want %d", len(randoms), n)
	}
	ids := make(map[string]struct{}, n)
	for range n {
		ids[NewClientID()] = struct{}{}
	}
	if len(ids) != n {
		t.Errorf("got %d distinct client ids, want %d", len(ids), n)
	}
}

// substitutionRate tries single-character substitutions of tok and returns
// how many were tried and how many valid() accepted. Every accepted one must
// be a true checksum collision.
func substitutionRate(t *testing.T, tok string, valid func(string) bool, pick func() (pos int, c byte)) (tried, accepted int) {
	t.Helper()
	pos, c := pick()
	for ; pos >= 0; pos, c = pick() {
		if tok[pos] == c {
			continue
		}
		mutated := tok[:pos] + string(c) + tok[pos+1:]
		tried++
		if valid(mutated) {
			accepted++
			if body := mutated[:len(mutated)-6]; refChecksum(body) != mutated[len(mutated)-6:] {
				t.Errorf("%q accepted without a matching checksum", mutated)
			}
		}
	}
	return tried, accepted
}

func TestSingleSubstitutionRejected(t *testing.T) {
	tests := []struct {
		name   string
		gen    func() string
		prefix string
		valid  func(string) bool
	}{
		{"secret", NewSecret, SecretPrefix, ValidSecret},
		{"organization secret", secretsOf(organization), OrganizationSecretPrefix, ValidSecret},
		{"publishable secret", secretsOf(publishable), PublishableSecretPrefix, ValidSecret},
		{"client id", NewClientID, ClientIDPrefix, ValidClientID},
	}
	for _, tc := range tests {
		t.Run(tc.name+"/exhaustive", func(t *testing.T) {
			// Every position after the prefix, every other base62 character.
			for range 3 {
				tok := tc.gen()
				pos, ci := len(tc.prefix), 0
				pick := func() (int, byte) {
					if pos >= len(tok) {
						return -1, 0
					}
					p, c := pos, base62[ci]
					if ci++; ci == len(base62) {
						ci, pos = 0, pos+1
					}
					return p, c
				}
				tried, accepted := substitutionRate(t, tok, tc.valid, pick)
				if want := (len(tok) - len(tc.prefix)) * 61; tried != want {
					t.Errorf("got %d substitutions tried, want %d", tried, want)
				}
				if rate := float64(tried-accepted) / float64(tried); rate < 0.99 {
					t.Errorf("got rejection rate %.4f (%d/%d accepted), want ≥ 0.99", rate, accepted, tried)
				}
				t.Logf("%s: %d/%d single substitutions accepted", tok, accepted, tried)
			}
		})
		t.Run(tc.name+"/random", func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			const samples = 2000
			tried, accepted := 0, 0
			for range samples / 50 {
				tok := tc.gen()
				k := 0
				pick := func() (int, byte) {
					if k++; k > 50 {
						return -1, 0
					}
					return len(tc.prefix) + r.IntN(len(tok)-len(tc.prefix)), base62[r.IntN(len(base62))]
				}
				n, a := substitutionRate(t, tok, tc.valid, pick)
				tried, accepted = tried+n, accepted+a
			}
			if tried < 200 {
				t.Fatalf("got %d substitutions tried, want ≥ 200", tried)
			}
			if rate := float64(tried-accepted) / float64(tried); rate < 0.99 {
				t.Errorf("got rejection rate %.4f (%d/%d accepted), want ≥ 0.99", rate, accepted, tried)
			}
		})
	}
	t.Run("prefix substitution", func(t *testing.T) {
		// Another kind's prefix included: the checksum covers the prefix.
		for _, k := range kindPrefixes {
			s := secretsOf(k.kind)()
			for pos := range len(k.prefix) {
				for _, c := range []byte("azsopc_Z0-") {
					if s[pos] == c {
						continue
					}
					m := s[:pos] + string(c) + s[pos+1:]
					if ValidSecret(m) {
						t.Errorf("ValidSecret(%q) = true, want false", m)
					}
				}
			}
		}
	})
}

// secretsOf returns a generator of secrets of one of the three kinds, for
// which NewSecretFor has no error (TestNewSecretFor).
func secretsOf(kind string) func() string {
	return func() string {
		s, err := NewSecretFor(kind)
		if err != nil {
			panic(err)
		}
		return s
	}
}

// TestSecretRandomUniform is a loose sanity check of the rejection sampling:
// every base62 character shows up about equally often, at every position.
// The bounds are many standard deviations wide so that it never flakes.
func TestSecretRandomUniform(t *testing.T) {
	const n = 2000
	var counts [43][62]int
	var total [62]int
	for range n {
		s := NewSecret()
		for pos := range 43 {
			i := strings.IndexByte(base62, s[4+pos])
			if i < 0 {
				t.Fatalf("%q: got non-base62 character %q at %d", s, s[4+pos], 4+pos)
			}
			counts[pos][i]++
			total[i]++
		}
	}
	expectTotal := float64(n*43) / 62 // ≈ 1387, σ ≈ 37
	for i, got := range total {
		if f := float64(got); f < 0.75*expectTotal || f > 1.25*expectTotal {
			t.Errorf("character %q: got %d occurrences overall, want %.0f ± 25%%", base62[i], got, expectTotal)
		}
	}
	expectPos := float64(n) / 62 // ≈ 32.3
	for pos := range counts {
		chi2 := 0.0
		for i, got := range counts[pos] {
			if got == 0 {
				// P ≈ (61/62)^2000 ≈ 7e-15 per cell.
				t.Errorf("position %d: character %q never appears, want ≈ %.0f", 4+pos, base62[i], expectPos)
			}
			d := float64(got) - expectPos
			chi2 += d * d / expectPos
		}
		// 61 degrees of freedom: mean 61, σ ≈ 11; 160 is ≈ 9σ out.
		if chi2 > 160 {
			t.Errorf("position %d: got chi-square %.1f, want ≤ 160 (df 61)", 4+pos, chi2)
		}
	}
}

func testPepper(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func TestNewHasher(t *testing.T) {
	for _, n := range []int{0, 1, 31} {
		if h, err := NewHasher(make([]byte, n)); err == nil || h != nil {
			t.Errorf("NewHasher(%d bytes) = %v, %v; want nil, error", n, h, err)
		}
	}
	if _, err := NewHasher(nil); err == nil {
		t.Errorf("NewHasher(nil): got no error, want one")
	}
	for _, n := range []int{32, 64} {
		if _, err := NewHasher(make([]byte, n)); err != nil {
			t.Errorf("NewHasher(%d bytes): got error %v, want nil", n, err)
		}
	}
	t.Run("pepper is copied", func(t *testing.T) {
		p := testPepper(1)
		h, err := NewHasher(p)
		if err != nil {
			t.Fatal(err)
		}
		before := h.Hash("s")
		p[0] = 99
		if after := h.Hash("s"); !bytes.Equal(before, after) {
			t.Errorf("got hash %x after mutating the caller's pepper, want %x", after, before)
		}
	})
}

func mustHasher(t *testing.T, pepper []byte) *Hasher {
	t.Helper()
	h, err := NewHasher(pepper)
	if err != nil {
		t.Fatalf("NewHasher: %v", err)
	}
	return h
}

func TestHashMatches(t *testing.T) {
	h := mustHasher(t, testPepper(1))
	secret := NewSecret()
	stored := h.Hash(secret)
	if len(stored) != 32 {
		t.Fatalf("got hash length %d, want 32", len(stored))
	}
	tests := []struct {
		name   string
		secret string
		stored []byte
		want   bool
	}{
		{"right secret", secret, stored, true},
		{"wrong secret", NewSecret(), stored, false},
		{"secret with one char changed", secret[:10] + "!" + secret[11:], stored, false},
		{"secret prefix", secret[:len(secret)-1], stored, false},
		{"empty secret", "", stored, false},
		{"nil stored hash", secret, nil, false},
		{"empty stored hash", secret, []byte{}, false},
		{"empty stored hash, empty secret", "", []byte{}, false},
		{"nil stored hash, empty secret", "", nil, false},
		{"short stored hash", secret, stored[:16], false},
		{"stored hash minus one byte", secret, stored[:31], false},
		{"stored hash plus a byte", secret, append(append([]byte(nil), stored...), 0), false},
		{"zero stored hash", secret, make([]byte, 32), false},
		{"empty secret with its own hash", "", h.Hash(""), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := hashMatches(h.Hash(tc.secret), tc.stored); got != tc.want {
				t.Errorf("hashMatches = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestHasherPepper(t *testing.T) {
	h1 := mustHasher(t, testPepper(1))
	h1b := mustHasher(t, testPepper(1))
	h2 := mustHasher(t, testPepper(2))
	secret := NewSecret()
	if a, b := h1.Hash(secret), h1b.Hash(secret); !bytes.Equal(a, b) {
		t.Errorf("same pepper: got hashes %x and %x, want equal", a, b)
	}
	if a, b := h1.Hash(secret), h2.Hash(secret); bytes.Equal(a, b) {
		t.Errorf("different peppers: got equal hashes %x, want different", a)
	}
	if hashMatches(h2.Hash(secret), h1.Hash(secret)) {
		t.Errorf("hashMatches with another pepper's hash = true, want false")
	}
	if a, b := h1.Hash("a"), h1.Hash("b"); bytes.Equal(a, b) {
		t.Errorf("different secrets: got equal hashes %x", a)
	}
}

func TestHasherFingerprint(t *testing.T) {
	h1 := mustHasher(t, testPepper(1))
	f1 := h1.Fingerprint()
	if len(f1) != 12 || !isBase62(f1) {
		t.Errorf("got fingerprint %q, want 12 base62 characters", f1)
	}
	if again := h1.Fingerprint(); again != f1 {
		t.Errorf("got fingerprint %q on second call, want %q", again, f1)
	}
	if other := mustHasher(t, testPepper(1)).Fingerprint(); other != f1 {
		t.Errorf("same pepper: got fingerprint %q, want %q", other, f1)
	}
	if other := mustHasher(t, testPepper(2)).Fingerprint(); other == f1 {
		t.Errorf("different pepper: got the same fingerprint %q, want a different one", other)
	}
}

func TestSecretDisplay(t *testing.T) {
	for _, k := range kindPrefixes {
		gen := secretsOf(k.kind)
		for range 200 {
			s := gen()
			prefix, last := SecretDisplay(s)
			if prefix != k.prefix {
				t.Errorf("SecretDisplay(%q): got prefix %q, want %q", s, prefix, k.prefix)
			}
			if want := s[len(s)-4:]; last != want {
				t.Errorf("SecretDisplay(%q): got last %q, want %q", s, last, want)
			}
			middle := s[len(k.prefix) : len(k.prefix)+43]
			shown := prefix + "\x00" + last
			if strings.Contains(shown, middle) {
				t.Errorf("SecretDisplay(%q) reveals the random part", s)
			}
			// The last characters come from the checksum, not the random part.
			if !strings.HasSuffix(refChecksum(s[:len(s)-6]), last) {
				t.Errorf("SecretDisplay(%q): got last %q, want the end of the checksum", s, last)
			}
		}
	}
	tests := []struct {
		in, wantPrefix, wantLast string
	}{
		{"", "", ""},
		{"azs_", "", ""},
		{"azs_1234", "", ""},
		{"azs_12345", "azs_", "2345"},
		{"azo_12345", "azo_", "2345"},
		{"azp_12345", "azp_", "2345"},
		{"azc_12345", "", "2345"},
		{"legacy-secret-value", "", "alue"},
		{"abcdefghi", "", "fghi"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			p, l := SecretDisplay(tc.in)
			if p != tc.wantPrefix || l != tc.wantLast {
				t.Errorf("SecretDisplay(%q) = %q, %q; want %q, %q", tc.in, p, l, tc.wantPrefix, tc.wantLast)
			}
		})
	}
}

func FuzzSecretFormat(f *testing.F) {
	for _, tc := range secretFormatCases {
		f.Add(tc.in)
	}
	for _, k := range kindPrefixes {
		s, err := NewSecretFor(k.kind)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s)
	}
	f.Add(NewClientID())
	f.Fuzz(func(t *testing.T, s string) {
		kind, okSecret := SecretKind(s)
		okID := ValidClientID(s)
		if ValidSecret(s) != okSecret {
			t.Fatalf("ValidSecret(%q) = %v, but SecretKind says %v", s, !okSecret, okSecret)
		}
		if okSecret != (kind != "") {
			t.Fatalf("SecretKind(%q) = %q, %v: a kind exactly when well-formed", s, kind, okSecret)
		}
		if okSecret && okID {
			t.Fatalf("%q is both a valid secret and a valid client id", s)
		}
		check := func(what, prefix string, n int) {
			t.Helper()
			if !strings.HasPrefix(s, prefix) {
				t.Fatalf("%s %q accepted without prefix %q", what, s, prefix)
			}
			if len(s) != n {
				t.Fatalf("%s %q accepted with length %d, want %d", what, s, len(s), n)
			}
			if !isBase62(s[len(prefix):]) {
				t.Fatalf("%s %q accepted with non-base62 characters", what, s)
			}
			if got, want := s[n-6:], refChecksum(s[:n-6]); got != want {
				t.Fatalf("%s %q accepted with checksum %q, want %q", what, s, got, want)
			}
		}
		if okSecret {
			prefix := ""
			for _, k := range kindPrefixes {
				if k.kind == kind {
					prefix = k.prefix
				}
			}
			if prefix == "" {
				t.Fatalf("SecretKind(%q) = %q, not a client kind", s, kind)
			}
			check(kind+" secret", prefix, wantSecretLen)
		}
		if okID {
			check("client id", ClientIDPrefix, wantClientIDLen)
		}
		// Round trip: re-checksumming any well-shaped body must make it valid,
		// of the kind its prefix names, and an ill-shaped one must stay
		// invalid.
		if len(s) >= wantClientIDLen-6 {
			body := s[:wantClientIDLen-6]
			want := strings.HasPrefix(body, ClientIDPrefix) && isBase62(body[4:])
			if got := ValidClientID(withChecksum(body)); got != want {
				t.Fatalf("ValidClientID(%q + checksum) = %v, want %v", body, got, want)
			}
		}
		if len(s) >= wantSecretLen-6 {
			body := s[:wantSecretLen-6]
			wantKind := ""
			for _, k := range kindPrefixes {
				if strings.HasPrefix(body, k.prefix) && isBase62(body[4:]) {
					wantKind = k.kind
				}
			}
			if kind, ok := SecretKind(withChecksum(body)); kind != wantKind || ok != (wantKind != "") {
				t.Fatalf("SecretKind(%q + checksum) = %q, %v; want %q, %v", body, kind, ok, wantKind, wantKind != "")
			}
		}
	})
}

// A secret of any kind sent as client_id (id and secret swapped) reaches
// the audit log redacted to its prefix and last characters.
func TestTruncateIDRedactsSecrets(t *testing.T) {
	for _, k := range kindPrefixes {
		s := secretsOf(k.kind)()
		if got, want := truncateID(s), k.prefix+"…"+s[len(s)-4:]+" (a secret sent as client_id; redacted)"; got != want {
			t.Errorf("truncateID(%s secret %q) = %q, want %q", k.kind, s, got, want)
		}
	}
	for _, id := range []string{NewClientID(), "legacy-ci-1", "azx_" + strings.Repeat("a", 49)} {
		if got := truncateID(id); got != id {
			t.Errorf("truncateID(%q) = %q, want it unchanged", id, got)
		}
	}
}
