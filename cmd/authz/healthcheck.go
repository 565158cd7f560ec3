package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheck is `authz healthcheck`: it asks the server at --addr for
// /readyz and succeeds when it answers 200. It is the container's health
// check, where the image has no shell and no curl (deploy/compose.yaml).
func (m *Main) healthcheck(ctx context.Context, args []string) error {
	var c common
	fs := m.flags("healthcheck", &c)
	addr := fs.String("addr", m.env("AUTHZ_ADDR", "127.0.0.1:8080"), "the server's listen address host:port, as serve's --addr; an unspecified host (0.0.0.0, ::) is asked at 127.0.0.1 (env AUTHZ_ADDR)")
	pos, err := m.parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return errors.New("healthcheck takes no arguments")
	}
	host, port, err := net.SplitHostPort(*addr)
	if err != nil {
		return fmt.Errorf("--addr %q: want host:port", *addr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("not ready: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(m.Stdout, "ready")
	return nil
}
