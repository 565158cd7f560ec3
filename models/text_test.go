package models_test

import (
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // a word of the error; "" for no error
	}{
		{"CI pipeline", ""},
		{"Zahlungsläufe – nächtlich", ""},
		{"日本語の名前", ""},
		{"👩‍💻 team", ""},                    // a ZWJ emoji sequence
		{"می‌خواهم", ""},                    // ZWNJ, part of Persian spelling
		{"tab\there", "U+0009"},             // C0
		{"esc\x1b[2J", "U+001B"},            // C0: terminal escape
		{"line\nbreak", "U+000A"},           // C0
		{"cr\rhere", "U+000D"},              // C0
		{"nul\x00", "U+0000"},               // PostgreSQL refuses it
		{"del\x7f", "U+007F"},               // DEL
		{"csi\u009b31m", "U+009B"},          // C1: 8-bit CSI
		{"next\u0085line", "U+0085"},        // C1: next line
		{"abc\u202egpj.exe", "U+202E"},      // bidi override
		{"a\u2066b\u2069", "U+2066"},        // bidi isolate
		{"rlm\u200f", "U+200F"},             // bidi mark
		{"sep\u2028arator", "U+2028"},       // line separator
		{"bom\ufeff", "U+FEFF"},             // format character
		{"tag\U000E0041", "U+E0041"},        // tag character
		{"bad\xff", "UTF-8"},                // invalid UTF-8
		{"cut\xe2\x80", "UTF-8"},            // a truncated sequence
		{"replacement \ufffd is text", ""},  // a literal U+FFFD is valid
		{"surrogate \xed\xa0\x80", "UTF-8"}, // an encoded surrogate
	} {
		t.Run(tc.in, func(t *testing.T) {
			err := models.CheckText(tc.in)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("got %v, want no error", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("got %v, want an error naming %s", err, tc.want)
			}
		})
	}
}

// A user agent is whatever a client sent: invalid UTF-8 in one (HTTP
// allows any byte above 0x7f) must not make PostgreSQL refuse the whole
// usage batch. It is stored with U+FFFD in place of each run of bad bytes.
func TestRecordUsageInvalidUserAgent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		s := storetest.Open(t, backend)
		owner := mustCreateUser(t, s, "owner@example.com")
		c, sec := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
		other, _ := mustCreateClient(t, s, &models.Client{OrgID: models.DefaultOrgID, OwnerID: owner.ID})
		at := time.Date(2032, 3, 4, 10, 0, 0, 0, time.UTC)
		err := s.RecordUsage(t.Context(), []models.Usage{
			{ClientID: c.ID, SecretID: sec.ID, At: at, IP: "192.0.2.1", UserAgent: "curl\xff/8.0 \xe2\x80", Count: 1},
			{ClientID: other.ID, At: at, IP: "192.0.2.2", UserAgent: "fine/1.0", Count: 1},
		})
		if err != nil {
			t.Fatalf("RecordUsage: %v", err)
		}
		for id, want := range map[string]string{c.ID: "curl\ufffd/8.0 \ufffd", other.ID: "fine/1.0"} {
			if got := mustClient(t, s, id); got.LastUserAgent != want || got.TokenCount != 1 {
				t.Errorf("client %s: user agent %q, %d tokens; want %q, 1", id, got.LastUserAgent, got.TokenCount, want)
			}
		}
	})
}

func TestClientOrder(t *testing.T) {
	for _, tc := range []struct {
		sort, order string
		desc        bool
		err         bool
	}{
		{models.SortCreated, "", true, false},
		{models.SortLastUsed, "", true, false},
		{models.SortName, "", false, false},
		{models.SortExpires, "", false, false},
		{models.SortCreated, "asc", false, false},
		{models.SortOwner, "desc", true, false},
		{"bogus", "", false, true},
		{"", "asc", false, true},
		{models.SortName, "sideways", false, true},
	} {
		desc, err := models.ClientOrder(tc.sort, tc.order)
		if tc.err {
			if models.ErrorCode(err) != "invalid_sort" {
				t.Errorf("ClientOrder(%q, %q): err %v, want invalid_sort", tc.sort, tc.order, err)
			}
			continue
		}
		if err != nil || desc != tc.desc {
			t.Errorf("ClientOrder(%q, %q) = %v, %v; want %v", tc.sort, tc.order, desc, err, tc.desc)
		}
	}
}
