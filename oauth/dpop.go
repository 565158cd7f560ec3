package oauth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/authz/authz/jwtkeys/verify"
	"github.com/authz/authz/models"
)

// This file is DPoP at the token endpoint (RFC 9449 §5): the proof's
// checks, the replay record shared by every instance through the
// database, and the server nonces of §8.

// ReplayStore records one-time values for every instance (models.Store).
type ReplayStore interface {
	// RecordReplay reports false when key of kind was recorded before.
	RecordReplay(ctx context.Context, kind, key string, expires time.Time) (bool, error)
}

// DPoP nonces are stateless: a time window's number and its HMAC under a
// key derived from the server's pepper, which every instance shares. A
// nonce of the current or the previous window is accepted, so one lives
// between DPoPNonceWindow and twice that.
const DPoPNonceWindow = 5 * time.Minute

// dpopProof checks the request's DPoP header, if it has one: nil when
// there is none. At most one header; the proof's htu is compared with the
// token endpoint's URL derived from the issuer (never the Host header).
func (s *Server) dpopProof(r *http.Request) (*verify.DPoPProof, *Error) {
	values := r.Header["Dpop"]
	switch len(values) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, ErrInvalidDPoPProof.With("send one DPoP header")
	}
	if s.replays == nil {
		return nil, ErrInvalidDPoPProof.With("this server does not accept DPoP proofs")
	}
	p, err := verify.CheckDPoPProof(values[0], verify.DPoPCheck{Method: http.MethodPost, URL: s.tokenURL, Now: s.cfg.Now()})
	if err != nil {
		return nil, ErrInvalidDPoPProof.With(strings.TrimPrefix(err.Error(), "verify: "))
	}
	if s.nonceKey != nil && !s.validNonce(p.Nonce) {
		return nil, ErrUseDPoPNonce.With("the DPoP proof must carry the nonce of the DPoP-Nonce header")
	}
	return p, nil
}

// recordProof refuses a proof whose jti was accepted before, on any
// instance; called once the client is authenticated and its grant decided,
// so only authenticated clients write to the table.
func (s *Server) recordProof(ctx context.Context, p *verify.DPoPProof) *Error {
	fresh, err := s.replays.RecordReplay(ctx, models.ReplayDPoP, p.ReplayKey(), p.Expires)
	if err != nil {
		return s.toError(ctx, errors.Join(errStoreUnavailable, err))
	}
	if !fresh {
		return ErrInvalidDPoPProof.With("the DPoP proof's jti was used before")
	}
	return nil
}

// DPoPNonce is the nonce to send in a DPoP-Nonce header, "" when nonces
// are off.
func (s *Server) DPoPNonce() string {
	if s.nonceKey == nil {
		return ""
	}
	return s.nonce(s.cfg.Now().Unix() / int64(DPoPNonceWindow/time.Second))
}

func (s *Server) nonce(window int64) string {
	var b [8 + 16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(window))
	mac := hmac.New(sha256.New, s.nonceKey)
	mac.Write(b[:8])
	copy(b[8:], mac.Sum(nil))
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// validNonce accepts the nonce of the current and of the previous window.
func (s *Server) validNonce(n string) bool {
	now := s.cfg.Now().Unix() / int64(DPoPNonceWindow/time.Second)
	for _, w := range []int64{now, now - 1} {
		if hmac.Equal([]byte(n), []byte(s.nonce(w))) {
			return true
		}
	}
	return false
}
