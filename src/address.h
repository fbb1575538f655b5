// host:port text <-> values, and sockaddr formatting. Pure: no I/O, no DNS.
#pragma once

#include <cstdint>
#include <string>

#include <sys/socket.h>

struct HostPort {
  std::string host;  // "" when only a port was given; IPv6 literals without brackets
  uint16_t port = 0;
};

// Parses "PORT", "HOST:PORT" or "[V6]:PORT". With host_required, a bare port
// is refused. The host must be an IP literal or a valid DNS name.
bool parse_host_port(const std::string& text, bool host_required, HostPort& out, std::string& err);

// Parses a decimal port 1..65535.
bool parse_port(const std::string& text, uint16_t& out);

// True for a syntactically valid DNS name (RFC 1123 labels, <= 253 chars).
bool is_valid_hostname(const std::string& name);

// Fills ss from an IPv4/IPv6 literal; false if host is not a literal.
bool ip_literal_to_sockaddr(const std::string& host, uint16_t port, sockaddr_storage& ss,
                            socklen_t& len);

// Bind addresses as the configuration writes them: "" (every IPv4
// address), an IPv4 or IPv6 literal. The one notion of "same address":
// the IPv4 wildcard is "" or "0.0.0.0", the IPv6 wildcard "::"; literals
// compare by value ("::1" and "0:0::1" are one address).
bool is_wildcard(const std::string& bind_host);
int address_family(const std::string& bind_host);  // AF_INET for "" and IPv4, else AF_INET6
bool same_address(const std::string& a, const std::string& b);

// "1.2.3.4:80", "[::1]:80"; host names are written as-is.
std::string format_host_port(const std::string& host, uint16_t port);
std::string format_sockaddr(const sockaddr* sa);
// The address alone: "1.2.3.4", "::1" ("?" for other families).
std::string format_address(const sockaddr* sa);

// Replaces non-printable bytes so peer-supplied text is safe to log.
std::string printable(const std::string& text, size_t max_len = 200);
