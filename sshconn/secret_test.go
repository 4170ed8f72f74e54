package sshconn_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/sshpool/sshpool/sshconn"
	"github.com/sshpool/sshpool/sshtest"
)

const topSecret = "pa55-Wörd-do-not-log"

func TestSecretNeverPrints(t *testing.T) {
	s := sshconn.NewSecret(topSecret)
	if s.Reveal() != topSecret || s.IsZero() || !sshconn.NewSecret("").IsZero() {
		t.Fatal("Reveal/IsZero")
	}
	holder := struct {
		Name string
		Pw   sshconn.Secret
		Ptr  *sshconn.Secret
	}{"x", s, &s}
	var logs logBuffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("msg", "secret", s, "holder", holder)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("msg", "secret", s)
	j, err := json.Marshal(holder)
	if err != nil {
		t.Fatal(err)
	}
	outputs := []string{
		s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v", holder, holder, holder), fmt.Sprintf("%v", &s), string(j), logs.String(),
	}
	for _, out := range outputs {
		if strings.Contains(out, topSecret) || strings.Contains(out, fmt.Sprintf("%x", topSecret)) {
			t.Errorf("secret leaked: %s", out)
		}
	}
	if !strings.Contains(outputs[3], "[REDACTED]") {
		t.Errorf("want [REDACTED], got %s", outputs[3])
	}
}

func TestAuthPrintsNoKeyMaterial(t *testing.T) {
	signer, priv := newKey(t)
	a := sshconn.Auth{Agent: true, Signers: []ssh.Signer{signer}, IdentityFiles: []string{"/k"}}
	seed := fmt.Sprintf("%x", priv.Seed())
	for _, out := range []string{fmt.Sprintf("%v", a), fmt.Sprintf("%+v", a), fmt.Sprintf("%#v", a), fmt.Sprintf("%x", a)} {
		if strings.Contains(out, seed) || strings.Contains(fmt.Sprintf("%x", out), seed) {
			t.Fatalf("key material printed: %s", out)
		}
	}
	if got := a.String(); got != "Auth{agent, 1 identity files, 1 signers}" {
		t.Fatalf("String() = %q", got)
	}
}

func TestSecretsAbsentFromTargetAndErrors(t *testing.T) {
	e := newEnv(t, sshtest.WithPassword("alice", "the-right-one"))
	tgt := e.target()
	tgt.Auth = sshconn.Auth{Secrets: sshconn.StaticPassword(sshconn.NewSecret(topSecret)),
		Passphrase: func(context.Context, string) (sshconn.Secret, error) { return sshconn.NewSecret(topSecret), nil }}
	var logs logBuffer
	_, err := dialTarget(t, tgt, sshconn.WithLogger(logs.logger()))
	var authErr *sshconn.AuthError
	if !errors.As(err, &authErr) {
		t.Fatalf("err = %v", err)
	}
	for _, out := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", tgt), fmt.Sprintf("%+v", tgt),
		tgt.String(), fmt.Sprintf("%+v", authErr), logs.String(), fmt.Sprintf("%v %+v %#v", tgt.Auth, tgt.Auth, tgt.Auth)} {
		if strings.Contains(out, topSecret) {
			t.Errorf("secret leaked: %s", out)
		}
	}
}
