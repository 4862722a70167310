package auth

import (
	"net"
	"net/netip"
	"strings"

	"github.com/day2ops/day2"
)

// CheckListenAddr refuses to serve without authentication beyond this machine. It
// returns nil when addr ("host:port") is on a loopback host (127.0.0.0/8, ::1 or
// "localhost"), when authConfigured says an auth file is in use, or when insecure
// says the operator passed --insecure. Otherwise, including for an empty host,
// "0.0.0.0" and "::" (all interfaces) and any other host name, it returns an
// EInvalid error telling the user to pass --auth-file or --insecure. Host names
// other than localhost are not resolved, so nothing goes over the network.
func CheckListenAddr(addr string, authConfigured, insecure bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return day2.Errorf(day2.EInvalid, "listen address %q is not host:port (for example 127.0.0.1:4318 or :4318): %v", addr, err)
	}
	if authConfigured || insecure || isLoopback(host) {
		return nil
	}
	where := "not a loopback address"
	if host == "" || isUnspecified(host) {
		where = "every network interface"
	}
	return day2.Errorf(day2.EInvalid,
		"refusing to listen on %s, which is %s, without authentication: anyone who can reach it could read telemetry and approve actions. "+
			"Pass --auth-file FILE to require tokens, listen on 127.0.0.1, or pass --insecure if a proxy in front of day2 authenticates requests",
		addr, where)
}

// isLoopback reports whether host is a loopback IP address or "localhost".
func isLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

func isUnspecified(host string) bool {
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsUnspecified()
}
