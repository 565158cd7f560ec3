package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authz/authz/app"
	"github.com/labstack/echo/v4"
)

// The refusals of a password check are 429 and 503 answers with
// Retry-After (the end-to-end 429 is in TestAdminSignInThrottle; a busy
// server cannot be made from outside the app package).
func TestPasswordProblem(t *testing.T) {
	other := errors.New("database down")
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter string
	}{
		{"throttled", &app.SignInThrottled{Wait: 1500 * time.Millisecond, Limit: "client_failures"}, http.StatusTooManyRequests, "too_many_attempts", "2"},
		{"busy", app.ErrPasswordBusy, http.StatusServiceUnavailable, "busy", "1"},
		{"other", other, 0, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/", nil), rec)
			err := passwordProblem(tc.err)
			setRetryAfter(c, err)
			if got := rec.Header().Get("Retry-After"); got != tc.retryAfter {
				t.Errorf("Retry-After: got %q, want %q", got, tc.retryAfter)
			}
			if tc.status == 0 {
				if err != other {
					t.Errorf("got %v, want the error unchanged", err)
				}
				return
			}
			status, body, known := render(err)
			if !known || status != tc.status || body.Code != tc.code {
				t.Errorf("got %d %s (known %v), want %d %s", status, body.Code, known, tc.status, tc.code)
			}
		})
	}
}
