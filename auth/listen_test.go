package auth

import (
	"strings"
	"testing"

	"github.com/day2ops/day2"
)

func TestCheckListenAddr(t *testing.T) {
	tests := []struct {
		name           string
		addr           string
		authConfigured bool
		insecure       bool
		wantErr        string // "" when the address is allowed
	}{
		{name: "IPv4 loopback", addr: "127.0.0.1:4318"},
		{name: "anywhere in 127.0.0.0/8", addr: "127.9.8.7:80"},
		{name: "IPv6 loopback", addr: "[::1]:4318"},
		{name: "IPv4-mapped loopback", addr: "[::ffff:127.0.0.1]:4318"},
		{name: "localhost", addr: "localhost:4318"},
		{name: "LOCALHOST with a trailing dot", addr: "LOCALHOST.:4318"},
		{name: "port 0 on loopback", addr: "127.0.0.1:0"},
		{name: "all interfaces by empty host", addr: ":4318", wantErr: ":4318, which is every network interface, without authentication"},
		{name: "all interfaces by 0.0.0.0", addr: "0.0.0.0:4318", wantErr: "every network interface"},
		{name: "all interfaces by ::", addr: "[::]:4318", wantErr: "every network interface"},
		{name: "a LAN address", addr: "192.168.1.10:4318", wantErr: "192.168.1.10:4318, which is not a loopback address, without authentication"},
		{name: "a public IPv6 address", addr: "[2001:db8::1]:4318", wantErr: "not a loopback address"},
		{name: "a host name is not resolved and so not trusted", addr: "day2.internal:4318", wantErr: "day2.internal:4318, which is not a loopback address"},
		{name: "a name that merely starts with localhost", addr: "localhost.example.com:4318", wantErr: "not a loopback address"},
		{name: "all interfaces with an auth file", addr: ":4318", authConfigured: true},
		{name: "a LAN address with an auth file", addr: "10.0.0.1:4318", authConfigured: true},
		{name: "all interfaces with --insecure", addr: "0.0.0.0:4318", insecure: true},
		{name: "no port", addr: "127.0.0.1", wantErr: `listen address "127.0.0.1" is not host:port`},
		{name: "no port with an auth file", addr: "0.0.0.0", authConfigured: true, wantErr: "is not host:port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckListenAddr(tt.addr, tt.authConfigured, tt.insecure)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckListenAddr(%q) = %v, want nil", tt.addr, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckListenAddr(%q) = nil, want an error containing %q", tt.addr, tt.wantErr)
			}
			if day2.ErrorCode(err) != day2.EInvalid {
				t.Errorf("code = %q, want %q", day2.ErrorCode(err), day2.EInvalid)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.Contains(tt.wantErr, "host:port") {
				for _, hint := range []string{"--auth-file", "--insecure"} {
					if !strings.Contains(err.Error(), hint) {
						t.Errorf("error %q does not mention %s", err, hint)
					}
				}
			}
		})
	}
}
