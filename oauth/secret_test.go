package oauth

import (
	"bytes"
	"hash/crc32"
	"math/rand/v2"
	"strings"
	"testing"
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
	wantSecretLen   = 4 + 43 + 6 // azs_ + random + checksum
	wantClientIDLen = 4 + 20 + 6 // azc_ + random + checksum
)

// withChecksum returns body followed by its correct checksum.
func withChecksum(body string) string { return body + refChecksum(body) }

// secretFormatCases are shared by the table test and the fuzz seed corpus.
var secretFormatCases = []struct {
	name         string
	in           string
	wantSecret   bool
	wantClientID bool
}{
	{"valid secret", withChecksum("azs_" + strings.Repeat("a", 43)), true, false},
	{"valid secret mixed", withChecksum("azs_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefg"), true, false},
	{"valid client id", withChecksum("azc_" + strings.Repeat("Z", 20)), false, true},
	{"empty", "", false, false},
	{"prefix only", "azs_", false, false},
	{"secret wrong prefix", withChecksum("azx_" + strings.Repeat("a", 43)), false, false},
	{"secret with client prefix", withChecksum("azc_" + strings.Repeat("a", 43)), false, false},
	{"client id with secret prefix", withChecksum("azs_" + strings.Repeat("Z", 20)), false, false},
	{"uppercase prefix", withChecksum("AZS_" + strings.Repeat("a", 43)), false, false},
	{"secret too short", withChecksum("azs_" + strings.Repeat("a", 42)), false, false},
	{"secret too long", withChecksum("azs_" + strings.Repeat("a", 44)), false, false},
	{"client id too short", withChecksum("azc_" + strings.Repeat("Z", 19)), false, false},
	{"client id too long", withChecksum("azc_" + strings.Repeat("Z", 21)), false, false},
	{"non-base62 in body", withChecksum("azs_" + strings.Repeat("a", 42) + "-"), false, false},
	{"underscore in body", withChecksum("azs_" + strings.Repeat("a", 42) + "_"), false, false},
	{"non-ASCII in body", withChecksum("azs_" + strings.Repeat("a", 41) + "é"), false, false},
	{"NUL in body", withChecksum("azs_" + strings.Repeat("a", 42) + "\x00"), false, false},
	{"non-base62 in checksum", "azs_" + strings.Repeat("a", 43) + "-----!", false, false},
	{"wrong checksum", "azs_" + strings.Repeat("a", 43) + "000000", false, false},
	{"checksum of other body", "azs_" + strings.Repeat("a", 43) + refChecksum("azs_"+strings.Repeat("b", 43)), false, false},
	{"trailing space", withChecksum("azs_"+strings.Repeat("a", 43)) + " ", false, false},
	{"leading space", " " + withChecksum("azs_"+strings.Repeat("a", 42)), false, false},
}

func TestValidSecretTable(t *testing.T) {
	for _, tc := range secretFormatCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidSecret(tc.in); got != tc.wantSecret {
				t.Errorf("ValidSecret(%q) = %v, want %v", tc.in, got, tc.wantSecret)
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
		s := NewSecret()
		for pos := range len(SecretPrefix) {
			for _, c := range []byte("azsc_Z0-") {
				if s[pos] == c {
					continue
				}
				m := s[:pos] + string(c) + s[pos+1:]
				if ValidSecret(m) {
					t.Errorf("ValidSecret(%q) = true, want false", m)
				}
			}
		}
	})
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
	for range 200 {
		s := NewSecret()
		prefix, last := SecretDisplay(s)
		if prefix != SecretPrefix {
			t.Errorf("SecretDisplay(%q): got prefix %q, want %q", s, prefix, SecretPrefix)
		}
		if want := s[len(s)-4:]; last != want {
			t.Errorf("SecretDisplay(%q): got last %q, want %q", s, last, want)
		}
		middle := s[len(SecretPrefix) : len(SecretPrefix)+43]
		shown := prefix + "\x00" + last
		if strings.Contains(shown, middle) {
			t.Errorf("SecretDisplay(%q) reveals the random part", s)
		}
		// The last characters come from the checksum, not the random part.
		if !strings.HasSuffix(refChecksum(s[:len(s)-6]), last) {
			t.Errorf("SecretDisplay(%q): got last %q, want the end of the checksum", s, last)
		}
	}
	tests := []struct {
		in, wantPrefix, wantLast string
	}{
		{"", "", ""},
		{"azs_", "", ""},
		{"azs_1234", "", ""},
		{"azs_12345", "azs_", "2345"},
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
	f.Add(NewSecret())
	f.Add(NewClientID())
	f.Fuzz(func(t *testing.T, s string) {
		okSecret := ValidSecret(s)
		okID := ValidClientID(s)
		if okSecret && okID {
			t.Fatalf("%q is both a valid secret and a valid client id", s)
		}
		check := func(kind, prefix string, n int) {
			t.Helper()
			if !strings.HasPrefix(s, prefix) {
				t.Fatalf("%s %q accepted without prefix %q", kind, s, prefix)
			}
			if len(s) != n {
				t.Fatalf("%s %q accepted with length %d, want %d", kind, s, len(s), n)
			}
			if !isBase62(s[len(prefix):]) {
				t.Fatalf("%s %q accepted with non-base62 characters", kind, s)
			}
			if got, want := s[n-6:], refChecksum(s[:n-6]); got != want {
				t.Fatalf("%s %q accepted with checksum %q, want %q", kind, s, got, want)
			}
		}
		if okSecret {
			check("secret", SecretPrefix, wantSecretLen)
		}
		if okID {
			check("client id", ClientIDPrefix, wantClientIDLen)
		}
		// Round trip: re-checksumming any well-shaped body must make it valid,
		// and an ill-shaped one must stay invalid.
		if len(s) >= wantClientIDLen-6 {
			body := s[:wantClientIDLen-6]
			want := strings.HasPrefix(body, ClientIDPrefix) && isBase62(body[4:])
			if got := ValidClientID(withChecksum(body)); got != want {
				t.Fatalf("ValidClientID(%q + checksum) = %v, want %v", body, got, want)
			}
		}
		if len(s) >= wantSecretLen-6 {
			body := s[:wantSecretLen-6]
			want := strings.HasPrefix(body, SecretPrefix) && isBase62(body[4:])
			if got := ValidSecret(withChecksum(body)); got != want {
				t.Fatalf("ValidSecret(%q + checksum) = %v, want %v", body, got, want)
			}
		}
	})
}
