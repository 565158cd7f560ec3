package app

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authz/authz/internal/testutil"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// Failed sign-ins are budgeted per (account, source) and per source, as
// the token endpoint budgets clients: past a budget the source waits,
// without a hash, while another source still signs in.
func TestSignInBackoff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		clk := testutil.NewClock(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
		reg := NewRegistry(e.store, RegistryConfig{Now: clk.Now})
		const pw = "a long enough password"
		if err := reg.SetPassword(ctx, cli, e.admin.Email, pw); err != nil {
			t.Fatal(err)
		}
		if err := reg.SetPassword(ctx, cli, e.member.Email, pw); err != nil {
			t.Fatal(err)
		}
		hashes := countHashes(t)
		const guesser, other = "198.51.100.1", "198.51.100.2"
		for i := range signInFailuresPerPair {
			if _, err := reg.SignIn(ctx, guesser, e.admin.Email, fmt.Sprint("guess ", i)); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("guess %d: got %v, want ErrInvalidCredentials", i, err)
			}
		}
		// The budget is spent: the backoff counts from the next failure.
		if _, err := reg.SignIn(ctx, guesser, "Root@Example.com", "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("guess past the budget: got %v, want ErrInvalidCredentials", err)
		}
		before := hashes.Load()
		var th *SignInThrottled
		if _, err := reg.SignIn(ctx, guesser, e.admin.Email, pw); !errors.As(err, &th) || th.Limit != "client_failures" || th.Wait != time.Second {
			t.Fatalf("right password after the budget: got %v, want SignInThrottled for 1s per account", err)
		}
		if hashes.Load() != before {
			t.Error("a throttled sign-in computed a hash")
		}
		// Another source signs in to the same account; the guesser signs in
		// to another account.
		if _, err := reg.SignIn(ctx, other, e.admin.Email, pw); err != nil {
			t.Errorf("the admin from another address: got %v, want success", err)
		}
		if _, err := reg.SignIn(ctx, guesser, e.member.Email, pw); err != nil {
			t.Errorf("another account from the guesser's address: got %v, want success", err)
		}
		// Each further failure doubles the wait.
		clk.Advance(time.Second)
		if _, err := reg.SignIn(ctx, guesser, e.admin.Email, "guess"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("after the wait: got %v, want ErrInvalidCredentials", err)
		}
		if _, err := reg.SignIn(ctx, guesser, e.admin.Email, pw); !errors.As(err, &th) || th.Wait != 2*time.Second {
			t.Fatalf("after another failure: got %v, want a 2s wait", err)
		}
		clk.Advance(2 * time.Second)
		if _, err := reg.SignIn(ctx, guesser, e.admin.Email, pw); err != nil {
			t.Errorf("after the wait, the right password: got %v, want success", err)
		}

		// Per source: failures over many accounts from one address (an IPv6
		// /64 counts as one) spend the source's budget, whatever the email.
		for i := range signInFailuresPerSource + 1 {
			ip := fmt.Sprintf("2001:db8:1:2::%x", i+1)
			if _, err := reg.SignIn(ctx, ip, fmt.Sprintf("user%d@example.com", i), "guess"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("spray %d: got %v, want ErrInvalidCredentials", i, err)
			}
		}
		if _, err := reg.SignIn(ctx, "2001:db8:1:2::ffff", e.member.Email, pw); !errors.As(err, &th) || th.Limit != "ip_failures" {
			t.Errorf("right password from the spraying /64: got %v, want SignInThrottled per source", err)
		}
		if _, err := reg.SignIn(ctx, "2001:db8:1:3::1", e.member.Email, pw); err != nil {
			t.Errorf("right password from the next /64: got %v, want success", err)
		}
		// A throttled attempt is not audited: the log records real checks.
		failed, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionFailed, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if want := signInFailuresPerPair + 2 + signInFailuresPerSource + 1; len(failed) != want {
			t.Errorf("%d session.failed events, want %d", len(failed), want)
		}
	})
}

// At most cap(passwordSlots) argon2id computations run at once, however
// many sign-ins arrive together. With no time to wait for a slot, the
// first sign-ins take every slot and hold it (the hook blocks their
// hashes); every other one is refused as busy.
func TestPasswordHashConcurrencyBound(t *testing.T) {
	cheapParams(t)
	e := newPasswordEnv(t, "sqlite")
	ctx := context.Background()
	dummy() // the dummy hash is made once, outside the slots
	orig := passwordWait
	passwordWait = 0
	t.Cleanup(func() { passwordWait = orig })
	slots := cap(passwordSlots)
	const signIns = 16
	var inFlight, maxInFlight atomic.Int64
	entered, release := make(chan struct{}), make(chan struct{})
	origKey := idKey
	idKey = func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
		n := inFlight.Add(1)
		for m := maxInFlight.Load(); n > m && !maxInFlight.CompareAndSwap(m, n); m = maxInFlight.Load() {
		}
		entered <- struct{}{}
		<-release
		inFlight.Add(-1)
		return origKey(password, salt, time, memory, threads, keyLen)
	}
	t.Cleanup(func() { idKey = origKey })

	errs := make(chan error, signIns)
	for i := range signIns {
		go func() {
			_, err := e.reg.SignIn(ctx, fmt.Sprintf("203.0.113.%d", i), "nobody@example.com", "guess")
			errs <- err
		}()
	}
	// Each sign-in either starts a hash (and holds it) or is refused.
	hashing, busy := 0, 0
	for range signIns {
		select {
		case <-entered:
			hashing++
		case err := <-errs:
			if !errors.Is(err, ErrPasswordBusy) {
				t.Fatalf("a sign-in that did not hash: got %v, want ErrPasswordBusy", err)
			}
			busy++
		}
	}
	for range hashing {
		release <- struct{}{}
	}
	for range hashing {
		if err := <-errs; !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("a sign-in that hashed: got %v, want ErrInvalidCredentials", err)
		}
	}
	if hashing != slots || busy != signIns-slots || maxInFlight.Load() != int64(slots) {
		t.Errorf("%d hashed (at most %d at once), %d busy; want %d, %d, %d", hashing, maxInFlight.Load(), busy, slots, slots, signIns-slots)
	}
}

// A request that finds every slot taken for passwordWait is refused with
// ErrPasswordBusy, and one whose caller is gone with its context's error;
// neither computes a hash. A request that waits gets the next free slot.
func TestPasswordSlotWait(t *testing.T) {
	cheapParams(t)
	e := newPasswordEnv(t, "sqlite")
	dummy()
	for range cap(passwordSlots) {
		passwordSlots <- struct{}{}
	}
	held := cap(passwordSlots)
	t.Cleanup(func() {
		for range held {
			<-passwordSlots
		}
	})
	orig := passwordWait
	passwordWait = 0
	t.Cleanup(func() { passwordWait = orig })
	hashes := countHashes(t)
	if _, err := e.reg.SignIn(context.Background(), "192.0.2.7", e.admin.Email, "guess"); !errors.Is(err, ErrPasswordBusy) {
		t.Errorf("sign-in with every slot taken: got %v, want ErrPasswordBusy", err)
	}
	if err := e.reg.SetPassword(context.Background(), cli, e.admin.Email, "a long enough password"); !errors.Is(err, ErrPasswordBusy) {
		t.Errorf("set password with every slot taken: got %v, want ErrPasswordBusy", err)
	}
	passwordWait = time.Hour
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := withSlot(ctx, func() { t.Error("ran without a slot") }); !errors.Is(err, context.Canceled) {
		t.Errorf("a gone caller waiting for a slot: got %v, want context.Canceled", err)
	}
	if n := hashes.Load(); n != 0 {
		t.Errorf("%d hashes computed, want 0", n)
	}
	// A busy answer is not a failed sign-in: it spends no budget.
	failed, err := e.store.Audit(context.Background(), models.AuditFilter{Action: models.AuditSessionFailed})
	if err != nil || len(failed) != 0 {
		t.Errorf("session.failed events: %v, %d, want none", err, len(failed))
	}
	// A waiting request runs once a slot frees, whenever it started waiting.
	done := make(chan error)
	go func() { done <- withSlot(context.Background(), func() {}) }()
	<-passwordSlots
	held--
	if err := <-done; err != nil {
		t.Errorf("a waiting request when a slot freed: got %v, want nil", err)
	}
}

// An email with a NUL, a control character or invalid UTF-8 is an unknown
// email: the same answer and cost as a wrong password, audited with the
// email made printable, never a database error.
func TestSignInOddEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		cheapParams(t)
		e := newPasswordEnv(t, backend)
		ctx := context.Background()
		dummy() // made once, at the first unknown email of the process
		hashes := countHashes(t)
		for i, email := range []string{"root\x00@example.com", "root@example.com\x00", "\xff\xfe@example.com", "ro\x01ot@example.com", strings.Repeat("é", 300) + "@example.com"} {
			before := hashes.Load()
			if _, err := e.reg.SignIn(ctx, fmt.Sprintf("192.0.2.%d", 10+i), email, "guess"); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("SignIn(%q): got %v, want ErrInvalidCredentials", email, err)
			}
			if got := hashes.Load() - before; got != 1 {
				t.Errorf("SignIn(%q): %d hashes, want 1 as for a wrong password", email, got)
			}
		}
		events, err := e.store.Audit(ctx, models.AuditFilter{Action: models.AuditSessionFailed})
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for _, ev := range events {
			got[ev.Actor] = true
			if len(ev.Actor) > models.MaxEmailLen {
				t.Errorf("audit actor of %d bytes, want at most %d", len(ev.Actor), models.MaxEmailLen)
			}
		}
		// (Lower-casing turns invalid UTF-8 into U+FFFD.)
		for _, want := range []string{"root?@example.com", "root@example.com?", "\ufffd\ufffd@example.com", "ro?ot@example.com"} {
			if !got[want] {
				t.Errorf("no session.failed event with actor %q; got %v", want, got)
			}
		}
		if len(events) != 5 {
			t.Errorf("%d session.failed events, want 5", len(events))
		}
	})
}
