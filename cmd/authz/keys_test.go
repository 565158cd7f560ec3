package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authz/authz/jwtkeys"
	"github.com/authz/authz/models"
	"github.com/authz/authz/models/storetest"
)

// rotateOut is the JSON of `keys rotate --json`.
type rotateOut struct {
	Created        bool      `json:"created"`
	Key            keyOut    `json:"key"`
	PublishAhead   string    `json:"publish_ahead"`
	ActivatesAfter time.Time `json:"activates_after"`
}

// promoteDue promotes the pending next key as a server would an hour
// later: the CLI only creates next keys.
func promoteDue(t *testing.T, dbURL, kek string) {
	t.Helper()
	ctx := t.Context()
	store, err := models.Open(ctx, dbURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	k, err := jwtkeys.ParseKEK(kek)
	if err != nil {
		t.Fatal(err)
	}
	skew := time.Hour
	kr, err := jwtkeys.NewKeyring(store, jwtkeys.KeyringConfig{KEK: k, Now: func() time.Time { return time.Now().Add(skew) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := kr.Load(ctx); err != nil { // sees the next key
		t.Fatal(err)
	}
	skew = 2 * time.Hour // it has been published long enough
	if err := kr.Tick(ctx); err != nil {
		t.Fatalf("promote: %v", err)
	}
}

func TestKeysCLI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, backend string) {
		url := storetest.URL(t, backend)
		oldKEK, newKEK, pepper := random32(), random32(), random32()
		m := withEnv(newMain(t, url), map[string]string{"AUTHZ_KEK": oldKEK, "AUTHZ_PEPPER": pepper})
		run(t, m, "migrate")

		// On an empty database rotate creates the first key, then the next.
		var rot rotateOut
		runJSON(t, m, &rot, "keys", "rotate", "--json")
		if !rot.Created || rot.Key.State != models.KeyNext || rot.Key.Generation != 2 || rot.Key.Alg != jwtkeys.ES256 || rot.Key.ActivatedAt != nil {
			t.Errorf("keys rotate: got %+v, want a new ES256 next key of generation 2", rot)
		}
		if rot.PublishAhead != "20m0s" || !rot.ActivatesAfter.Equal(rot.Key.CreatedAt.Add(20*time.Minute)) {
			t.Errorf("keys rotate: publish_ahead %s activates_after %s, want 20m0s after %s", rot.PublishAhead, rot.ActivatesAfter, rot.Key.CreatedAt)
		}
		var again rotateOut
		runJSON(t, m, &again, "keys", "rotate", "--json")
		if again.Created || again.Key.KID != rot.Key.KID {
			t.Errorf("keys rotate while a rotation is pending: got %+v, want the pending key %s, not created", again, rot.Key.KID)
		}
		if out := run(t, m, "keys", "rotate"); !strings.Contains(out, "already pending") || !strings.Contains(out, rot.Key.KID) {
			t.Errorf("keys rotate (text) while pending: %q", out)
		}

		var keys []keyOut
		runJSON(t, m, &keys, "keys", "list", "--json")
		if len(keys) != 2 || keys[0].State != models.KeyActive || keys[0].Generation != 1 || keys[1].KID != rot.Key.KID || keys[1].State != models.KeyNext {
			t.Errorf("keys list after rotate: got %+v, want the active key and the next %s", keys, rot.Key.KID)
		}
		if out := run(t, m, "keys", "list"); !strings.Contains(out, "GEN") || !strings.Contains(out, rot.Key.KID) || !strings.Contains(out, "next") {
			t.Errorf("keys list (text): %q", out)
		}

		// KEK rotation: new first, old second, then rewrap.
		rotated := withEnv(m, map[string]string{"AUTHZ_KEK": newKEK + "," + oldKEK})
		var rw jwtkeys.RewrapResult
		runJSON(t, rotated, &rw, "keys", "rewrap", "--json")
		if rw != (jwtkeys.RewrapResult{Rewrapped: 2}) {
			t.Errorf("keys rewrap: got %+v, want 2 rewrapped", rw)
		}
		if out := run(t, rotated, "keys", "rewrap"); !strings.Contains(out, "re-encrypted 0 signing keys") || !strings.Contains(out, "2 already were") {
			t.Errorf("second keys rewrap (text): %q", out)
		}
		// The new key alone now works; the old one alone is refused with
		// guidance, and creates nothing.
		newOnly := withEnv(m, map[string]string{"AUTHZ_KEK": newKEK})
		runJSON(t, newOnly, &again, "keys", "rotate", "--json")
		if again.Created || again.Key.KID != rot.Key.KID {
			t.Errorf("keys rotate with the new KEK: got %+v, want the pending key", again)
		}
		for _, args := range [][]string{{"keys", "rotate"}, {"keys", "rewrap"}} {
			_, stderr, err := invoke(t, m, args...)
			if err == nil || !errors.Is(err, jwtkeys.ErrKEKMismatch) || !strings.Contains(err.Error(), "AUTHZ_KEK=new,old") {
				t.Errorf("authz %s with only the old KEK: got %v, want ErrKEKMismatch with guidance\n%s", strings.Join(args, " "), err, stderr)
			}
		}
		runJSON(t, m, &keys, "keys", "list", "--json")
		if len(keys) != 2 {
			t.Errorf("keys after refused commands: got %d, want 2", len(keys))
		}

		// Promotion is the servers' job; afterwards rotate creates again, and
		// --alg picks the new key's algorithm.
		promoteDue(t, url, newKEK)
		runJSON(t, newOnly, &rot, "keys", "rotate", "--alg", "EdDSA", "--json")
		if !rot.Created || rot.Key.Alg != jwtkeys.EdDSA || rot.Key.Generation != 3 {
			t.Errorf("keys rotate --alg EdDSA: got %+v, want a new EdDSA key of generation 3", rot)
		}
		runJSON(t, m, &keys, "keys", "list", "--json")
		var got []string
		for _, k := range keys {
			got = append(got, k.State)
		}
		if !slices.Equal(got, []string{models.KeyRetired, models.KeyActive, models.KeyNext}) {
			t.Errorf("key states: got %v, want retired, active, next", got)
		}

		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"keys"}, "want a subcommand: list, rotate, rewrap"},
			{[]string{"keys", "shred"}, `unknown subcommand "shred"`},
			{[]string{"keys", "rotate", "--alg", "HS256"}, "--alg"},
		} {
			if _, _, err := invoke(t, newOnly, tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("authz %s: got %v, want an error containing %q", strings.Join(tc.args, " "), err, tc.want)
			}
		}
	})
}

// buildAuthz builds the authz binary into dir.
func buildAuthz(t *testing.T, dir string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building authz needs the go command: %v", err)
	}
	bin := filepath.Join(dir, "authz")
	if out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestKeysRotateTwoProcesses runs two `authz keys rotate` processes at once
// against one PostgreSQL database, round after round: each round creates
// exactly one next key, both processes succeed, and they report the same
// key.
func TestKeysRotateTwoProcesses(t *testing.T) {
	url := storetest.URL(t, "postgres") // skips without PostgreSQL
	bin := buildAuthz(t, t.TempDir())
	kek, pepper := random32(), random32()
	env := []string{"AUTHZ_DATABASE_URL=" + url, "AUTHZ_KEK=" + kek, "AUTHZ_PEPPER=" + pepper}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AUTHZ_") {
			env = append(env, kv)
		}
	}
	command := func(ctx context.Context, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		return cmd, &stdout, &stderr
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if cmd, _, stderr := command(ctx, "migrate"); cmd.Run() != nil {
		t.Fatalf("authz migrate failed:\n%s", stderr)
	}
	store := storetest.OpenURL(t, url)

	const rounds = 5
	for round := 1; round <= rounds; round++ {
		var procs [2]*exec.Cmd
		var outs, errs [2]*bytes.Buffer
		for i := range procs {
			procs[i], outs[i], errs[i] = command(ctx, "keys", "rotate", "--json")
		}
		for i, p := range procs {
			if err := p.Start(); err != nil {
				t.Fatalf("round %d: start process %d: %v", round, i, err)
			}
		}
		var results [2]rotateOut
		created := 0
		for i, p := range procs {
			if err := p.Wait(); err != nil {
				t.Fatalf("round %d: process %d: %v\nstderr:\n%s", round, i, err, errs[i])
			}
			if err := json.Unmarshal(outs[i].Bytes(), &results[i]); err != nil {
				t.Fatalf("round %d: process %d output: %v\n%s", round, i, err, outs[i])
			}
			if results[i].Created {
				created++
			}
		}
		if created != 1 || results[0].Key.KID != results[1].Key.KID {
			t.Errorf("round %d: %d processes created a key, kids %s and %s; want exactly one creation of one key",
				round, created, results[0].Key.KID, results[1].Key.KID)
		}
		keys, err := store.SigningKeys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var next, active int
		for i, k := range keys {
			if k.Generation != int64(i+1) {
				t.Errorf("round %d: generations %v, want 1..%d each once", round, keys, round+1)
			}
			switch k.State {
			case models.KeyNext:
				next++
			case models.KeyActive:
				active++
			}
		}
		if len(keys) != round+1 || next != 1 || active != 1 {
			t.Fatalf("round %d: %d keys, %d next, %d active; want %d keys, one next, one active", round, len(keys), next, active, round+1)
		}
		promoteDue(t, url, kek)
	}
}
