package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"
)

// certLoader serves the certificate of a key pair on disk and reloads it
// when either file changes: every handshake compares the files' size and
// modification time with those of the pair it holds (two stat calls,
// nothing read), and reads them again only when they differ. A pair that
// does not load then keeps the one in use and logs an error, once per
// change of the files; the next change is tried again.
type certLoader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	tried fileStamps // of the files last tried, loaded or not
}

// fileStamps identifies the versions of the certificate and key files.
type fileStamps [2]struct {
	size    int64
	modTime time.Time
}

// newCertLoader loads the pair; an error names what is wrong with it.
func newCertLoader(certFile, keyFile string, log *slog.Logger) (*certLoader, error) {
	l := &certLoader{certFile: certFile, keyFile: keyFile, log: log}
	stamp, err := l.stamps()
	if err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	l.cert, l.tried = &cert, stamp
	return l, nil
}

func (l *certLoader) stamps() (fileStamps, error) {
	var s fileStamps
	for i, name := range []string{l.certFile, l.keyFile} {
		fi, err := os.Stat(name)
		if err != nil {
			return s, fmt.Errorf("TLS: %w", err)
		}
		s[i].size, s[i].modTime = fi.Size(), fi.ModTime()
	}
	return s, nil
}

// GetCertificate is tls.Config.GetCertificate.
func (l *certLoader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	stamp, err := l.stamps()
	if err != nil || stamp == l.tried {
		if err != nil && stamp != l.tried {
			// A file missing for a moment while it is replaced: keep
			// serving, and say so once.
			l.tried = stamp
			l.log.Error("TLS: keeping the certificate in use", "err", err.Error())
		}
		return l.cert, nil
	}
	l.tried = stamp
	cert, err := tls.LoadX509KeyPair(l.certFile, l.keyFile)
	if err != nil {
		l.log.Error("TLS: the changed certificate and key do not load; keeping the certificate in use",
			"cert_file", l.certFile, "key_file", l.keyFile, "err", err.Error())
		return l.cert, nil
	}
	l.cert = &cert
	l.log.Info("TLS: certificate reloaded", "cert_file", l.certFile, "not_after", cert.Leaf.NotAfter)
	return l.cert, nil
}

// tlsConfig is the server's TLS configuration: TLS 1.2 at least, the
// certificate from l.
func tlsConfig(l *certLoader) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: l.GetCertificate}
}

// loopbackAddr reports whether a listen address reaches this machine only:
// localhost or a loopback IP. An empty or unspecified host (":8080",
// "0.0.0.0:8080") and any other name listen beyond it.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
